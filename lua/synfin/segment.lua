--- synfin.segment: segments a script makes: the Seg a hook sees and the
-- copies and replies it makes from one (seg:with, seg:reply), the fields a
-- crafted segment may have and their checks, the filling of a crafted
-- segment from a connection (host:send, c:segment), and the table of
-- absolute numbers synfin.core builds a segment from.
-- @module synfin
local types = require "synfin.types"
local util = require "synfin.util"
local where, argerror, shown, TWO32 = util.where, util.argerror, util.shown, util.TWO32

local segment = {}

--- The segment a hook sees: its fields, and two ways to make another one.
-- Fields: dir, time, src, dst, sport, dport, seq, ack (relative), `abs_seq`,
-- `abs_ack`, flags, win, len, payload, mss, wscale, `sack_perm`, `ts_val`,
-- `ts_ecr`, urp, ttl, tos, conn (the connection's id), state (its
-- connection's), n (its number in the trace), hook.
-- @type Seg
local Seg = types.Seg

local SEG_FIELDS = { src = true, dst = true, sport = true, dport = true, seq = true, ack = true,
  abs_seq = true, abs_ack = true, flags = true, win = true, payload = true, mss = true,
  wscale = true, sack_perm = true, ts_val = true, ts_ecr = true, urp = true, bad_checksum = true,
  ttl = true, tos = true, ts = true }

-- The options a crafted segment may leave out with false (ts = false: the
-- timestamp option, ts_val and ts_ecr).
local OPTIONS = { "mss", "wscale", "sack_perm", "sack", "abs_sack", "ts_val", "ts_ecr" }

-- Applies ts = false / true and an option = false to a segment table s
-- being crafted (has_ts: whatever filled it had the timestamp option).
local function strip_options(s, has_ts)
  if s.ts == 1 or s.ts == 0 then s.ts = s.ts == 1 end -- as records and hooks' segments show it
  if s.ts ~= nil and type(s.ts) ~= "boolean" then
    error(("%ssynfin: segment field 'ts' must be true or false, got %s"):format(where(), shown(s.ts)), 0)
  end
  if s.ts == false then
    s.ts_val, s.ts_ecr = nil, nil
  elseif s.ts == true and not has_ts and s.ts_val == nil then
    error(("%ssynfin: segment field 'ts' is true, but there are no timestamps to fill it with (no connection"
      .. " agreed them, RFC 7323 §3.2): give ts_val and ts_ecr"):format(where()), 0)
  end
  s.ts = nil
  for _, k in ipairs(OPTIONS) do
    if s[k] == false then s[k] = nil end
  end
  return s
end

-- The known segment fields, for an error message.
local function seg_field_names()
  local names = { "sack", "abs_sack" }
  for k in pairs(SEG_FIELDS) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

-- Sequence numbers that the Lua side computes with must be integers (a
-- relative one may be any: it wraps); every field's range is checked where
-- the segment is built (synfin.core), with its name.
local function check_seq_fields(fields)
  for _, k in ipairs { "seq", "ack", "abs_seq", "abs_ack" } do
    local v = fields[k]
    if v ~= nil and not (type(v) == "number" and math.tointeger(v)) then
      error(("%ssynfin: segment field '%s' must be an integer, got %s"):format(where(), k, shown(v)), 0)
    end
  end
end

local function copy_fields(seg, fields, fname)
  local out = setmetatable({}, Seg)
  for k, v in pairs(seg) do out[k] = v end
  for k, v in pairs(fields or {}) do
    if not SEG_FIELDS[k] then argerror(1, fname, ("unknown segment field '%s'"):format(tostring(k))) end
    out[k] = v
  end
  check_seq_fields(fields or {})
  return strip_options(out, out.ts_val ~= nil)
end

--- A modified copy of this segment, to return from a hook: it is sent (or
-- delivered) instead. fields: flags, seq, ack (relative), `abs_seq`, `abs_ack`,
-- win, payload, ...; the checksums are right unless `bad_checksum` = true.
-- @tparam[opt] table fields
-- @treturn Seg
-- @usage a:hook("egress", { flags = "S" }, function(seg) return seg:with { win = 0 } end)
function Seg:with(fields)
  local out = copy_fields(self, fields, "with")
  if fields and fields.seq and not fields.abs_seq then
    out.abs_seq = (self.abs_seq + (fields.seq - self.seq)) % TWO32
  end
  if fields and fields.ack and not fields.abs_ack then
    out.abs_ack = (self.abs_ack + (fields.ack - self.ack)) % TWO32
  end
  out.len = out.payload and #out.payload or 0
  return out
end

--- A segment going back to this one's sender, to return as { answer = ... }
-- from a hook: by default a RST that the sender accepts (RFC 9293 §3.5.2:
-- `<SEQ=SEG.ACK>` if it had an ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`).
-- @tparam[opt] table fields fields that override the RST's
-- @treturn Seg
-- @usage b:hook("ingress", { flags = "S" }, function(seg) return { answer = seg:reply() } end)
function Seg:reply(fields)
  local len = #(self.payload or "") + (self.flags:find("S", 1, true) and 1 or 0)
    + (self.flags:find("F", 1, true) and 1 or 0)
  local has_ack = self.flags:find("A", 1, true) ~= nil
  local out = setmetatable({
    src = self.dst, dst = self.src, sport = self.dport, dport = self.sport,
    flags = has_ack and "R" or "RA", win = 0, payload = "",
    abs_seq = has_ack and self.abs_ack or 0, abs_ack = (self.abs_seq + len) % TWO32,
  }, Seg)
  for k, v in pairs(fields or {}) do
    if not SEG_FIELDS[k] then argerror(1, "reply", ("unknown segment field '%s'"):format(tostring(k))) end
    out[k] = v
  end
  check_seq_fields(fields or {})
  -- relative numbers, as this segment's sender sees the reply's: its SEQ in
  -- the numbering of this one's ACK, and the other way round
  if fields and fields.seq and not fields.abs_seq then
    out.abs_seq = (self.abs_ack - self.ack + fields.seq) % TWO32
  end
  if fields and fields.ack and not fields.abs_ack then
    out.abs_ack = (self.abs_seq - self.seq + fields.ack) % TWO32
  end
  return out
end

-- A segment table as the C side builds it: absolute numbers.
local function wire(seg)
  return { src = seg.src, dst = seg.dst, sport = seg.sport, dport = seg.dport,
    seq = seg.abs_seq, ack = seg.abs_ack, flags = seg.flags, win = seg.win,
    payload = seg.payload, mss = seg.mss, wscale = seg.wscale, sack_perm = seg.sack_perm,
    sack = seg.abs_sack, ts_val = seg.ts_val, ts_ecr = seg.ts_ecr, urp = seg.urp, bad_checksum = seg.bad_checksum,
    ttl = seg.ttl, tos = seg.tos }
end

-- A crafted segment filled from what a connection would send now:
-- header_of(flags) gives it (c:header, sim:header), for the flags given
-- ("A" by default); the script's fields win, and ts = false or an option
-- = false leaves that option out. nil when header_of finds no connection.
local function crafted(header_of, fields)
  local flags = fields.flags
  if flags == nil then flags = "A" end
  if type(flags) ~= "string" then
    error(("%ssynfin: segment field 'flags' must be letters of SFRPAUEC, got %s"):format(where(), shown(flags)), 0)
  end
  local h = header_of(flags)
  if not h then return nil end
  local seg = { dst = h.dst, sport = h.sport, dport = h.dport, flags = flags, win = h.win,
    abs_seq = h.seq, abs_ack = h.ack, mss = h.mss, wscale = h.wscale, sack_perm = h.sack_perm,
    ts_val = h.ts_val, ts_ecr = h.ts_ecr, ttl = h.ttl, tos = h.tos }
  -- relative numbers given replace the connection's absolute ones
  if fields.seq ~= nil then seg.abs_seq = nil end
  if fields.ack ~= nil then seg.abs_ack = nil end
  for k, v in pairs(fields) do seg[k] = v end
  return strip_options(seg, h.ts_val ~= nil)
end

Seg.__tostring = function(s)
  return ("<seg%s %s %s:%s -> %s:%s seq=%s ack=%s win=%s len=%d>"):format(s.n and (" #" .. s.n) or "",
    s.flags ~= "" and s.flags or ".", s.src, s.sport, s.dst, s.dport, s.seq, s.ack, s.win,
    #(s.payload or ""))
end

segment.SEG_FIELDS, segment.strip_options, segment.seg_field_names = SEG_FIELDS, strip_options, seg_field_names
segment.check_seq_fields, segment.wire, segment.crafted = check_seq_fields, wire, crafted

return segment
