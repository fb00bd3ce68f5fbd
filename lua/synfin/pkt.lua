--- synfin.pkt: a parser for packetdrill's script language (.pkt files),
-- written with LPeg. `pkt.parse(text, name)` returns the script's events in
-- order, each with its line and column:
--
--     local pkt = require "synfin.pkt"
--     local events = assert(pkt.parse(io.open("a.pkt"):read("a"), "a.pkt"))
--     for _, e in ipairs(events) do print(e.line, e.kind) end
--
-- An event's `kind` is one of:
--
-- * "option": a command-line option written in the script, before its
--   events (`--tolerance_usecs=10000`): name, value (a string, or true).
-- * "packet": `+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,wscale 7>`:
--   dir ("<" the peer sends it to the system under test, ">" the system
--   sends it), flags (packetdrill's letters, "S."), seq, seq_end, len (the
--   `start:end(len)` numbers, relative), ack, win, urg (nil when not
--   written), options (nil: none written; "any": `<...>`; else a list of
--   { kind = "mss"|"sackOK"|"nop"|"eol"|"wscale"|"TS"|"sack", value, val,
--   ecr, blocks }).
-- * "syscall": `+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now
--   in progress)`: name, args (a list of expressions), ret (an integer, or
--   the expression `...`), errno ("EINPROGRESS" or nil), errtext.
-- * "unsupported": a construct synfin's runner does not run (a python
--   block `%{ }%`, a backquoted shell command, an ICMP or UDP packet, IP
--   header fields `[ecn]`, an option it does not know); what says which.
--
-- Every event but "option" has a time: { kind = "abs"|"rel"|"any", t
-- (seconds), hi and `hi_kind` (a range `0.1~0.2`, or a blocking call's end
-- `0.1...0.2`: then blocking = true) }. A shell command or a python block
-- written without one has { kind = "rel", t = 0, implicit = true }.
-- A packet's flags "-" (none) are "".
--
-- Expressions (a syscall's arguments and return): `...` is
-- { t = "ellipsis" }; numbers are Lua integers; "text" is { t = "str", v };
-- a name (SOCK_STREAM) { t = "ident", v }; `A|B` { t = "or", ... };
-- `[1]` { t = "array", ... }; `{fd=4, events=POLLOUT}` { t = "struct",
-- fields = { fd = 4, ... }, names = { "fd", ... } }; `htons(8080)`
-- { t = "call", name, args }.
--
-- A script that is not packetdrill's language gives nil and an error
-- naming the file, line and column: "a.pkt:3:12: expected ...".
-- @module synfin.pkt
-- @pragma nostrip
local lpeg = require "lpeg"

local P, R, S, C, Ct, Cc, Cp, Cg, V =
  lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Ct, lpeg.Cc, lpeg.Cp, lpeg.Cg, lpeg.V

local pkt = {}

-- The farthest position any token reached, for error messages, and what
-- was expected there.
local far, far_what = 0, nil

local function mark(what)
  return lpeg.Cmt(P(true), function(_, i)
    if i > far then far, far_what = i, {} end
    if i == far and what and not far_what[what] then
      far_what[what] = true
      far_what[#far_what + 1] = what
    end
    return i
  end)
end

-- blanks within a line
local nl = P "\r" ^ -1 * P "\n"
local line_comment = P "//" * (1 - nl) ^ 0
local block_comment = P "/*" * (1 - P "*/") ^ 0 * P "*/"
-- blanks, newlines and comments between events and inside brackets
local ws = (S " \t\r\n" + line_comment + block_comment) ^ 0
local hsp = (S " \t" + block_comment) ^ 0 -- within a line

local function tok(p, what) return mark(what) * p * hsp end

local digit = R "09"
local letter = R("az", "AZ") + P "_"
local ident = C(letter * (letter + digit) ^ 0)
local uint = digit ^ 1 / tonumber
local hex = (P "0x" + P "0X") * C(R("09", "af", "AF") ^ 1) / function(h) return tonumber(h, 16) end
local int = hex + C(P "-" ^ -1 * digit ^ 1) / function(s) return math.tointeger(tonumber(s)) end
local number = C(digit ^ 1 * (P "." * digit ^ 1) ^ -1 + P "." * digit ^ 1) / tonumber

-- Time: `*`, `0.1`, `+0.1`, ranges `0.1~0.2`, blocking `0.1...0.2`.
local function timeval(rel, t) return { rel = rel ~= "", t = t } end
local tpoint = C(P "+" ^ -1) * number / timeval
local time = tok(P "*") * Cc { kind = "any" }
  + tok(tpoint) * (tok(C(P "..." + P "~"), "'~' or '...'") * tok(tpoint, "a time")) ^ -1
  / function(a, sep, b)
    local t = { kind = a.rel and "rel" or "abs", t = a.t }
    if sep then
      t.hi, t.hi_kind, t.blocking = b.t, b.rel and "rel" or "abs", sep == "..."
    end
    return t
  end

-- Expressions: syscall arguments and returns.
local G = {}
local expr = V "expr"
local str = P '"' * C((P "\\" * 1 + (1 - S '"\n')) ^ 0) * P '"' / function(s) return { t = "str", v = s } end
G.expr = Ct(V "term" * (tok(P "|", "'|'") * V "term") ^ 0) / function(list)
  if #list == 1 then return list[1] end
  list.t = "or"
  return list
end
local list_of = function(open, close, item, what)
  return tok(P(open), what) * ws * Ct((item * ws * (tok(P ",", "','") * ws * item * ws) ^ 0) ^ -1) * tok(P(close),
    ("'%s'"):format(close))
end
G.field = Cg(tok(C(letter * (letter + digit) ^ 0 * (P "(" * (1 - S ")\n") ^ 0 * P ")") ^ -1), "a field name") * tok(P "=", "'='") * ws * expr) + Cg(Cc(false) * expr)
G.term = tok(P "...", "'...'") * Cc { t = "ellipsis" }
  + tok(str, "a string")
  + tok(int, "a number")
  + tok(ident, "a name") * list_of("(", ")", expr, "'('") / function(name, args)
    args.t, args.name = "call", name
    return args
  end
  + tok(ident, "a name") / function(v) return { t = "ident", v = v } end
  + list_of("[", "]", expr, "'['") / function(l)
    l.t = "array"
    return l
  end
  + tok(P "{", "'{'") * ws * Ct((Ct(V "field") * ws * (tok(P ",", "','") * ws * Ct(V "field") * ws) ^ 0) ^ -1)
  * tok(P "}", "'}'") / function(fs)
    local s = { t = "struct", fields = {}, names = {} }
    for i, f in ipairs(fs) do
      local name = f[1] or i
      s.fields[name], s.names[#s.names + 1] = f[2], name
    end
    return s
  end
G[1] = "expr"
local expression = P(G)

local errtext = P "(" * C(((1 - S "()\n") + P "(" * (1 - S "()\n") ^ 0 * P ")") ^ 0) * P ")"
local syscall = Ct(Cg(Cc "syscall", "kind")
  * Cg(tok(ident, "a system call"), "name")
  * Cg(list_of("(", ")", expression, "'('"), "args")
  * tok(P "=", "'=' and the return value")
  * Cg(tok(int, "a return value") + tok(P "...", "a return value") * Cc { t = "ellipsis" }, "ret")
  * (Cg(tok(C(P "E" * R "AZ" * (R "AZ" + digit) ^ 1), "an errno"), "errno")
    * (Cg(tok(errtext, "'(' and its text"), "errtext")) ^ -1) ^ -1)

-- Packets: flags, seq start:end(len), ack, win, urg, options.
local function opt_item(kind, p) return Ct(Cg(Cc(kind), "kind") * p) end
local option = opt_item("mss", tok(P "mss", "an option") * Cg(tok(uint, "the MSS"), "value"))
  + opt_item("wscale", tok(P "wscale", "an option") * Cg(tok(uint, "the shift"), "value"))
  + opt_item("sackOK", tok(P "sackOK", "an option"))
  + opt_item("nop", tok(P "nop", "an option"))
  + opt_item("eol", tok(P "eol", "an option"))
  + opt_item("TS", tok(P "TS", "an option") * tok(P "val", "'val'") * Cg(tok(uint, "a number"), "val")
    * tok(P "ecr", "'ecr'") * Cg(tok(uint, "a number"), "ecr"))
  + opt_item("sack", tok(P "sack", "an option") * Cg(Ct(Ct(tok(uint, "a number") * P ":" * tok(uint, "a number")) ^ 1),
    "blocks"))
  -- what synfin does not craft or check: Fast Open, MD5, experimental
  + opt_item("unsupported", -(P "mss" + P "wscale" + P "sack" + P "nop" + P "eol" + P "TS")
    * Cg(C((1 - S ",>\n") ^ 1), "value"))
local options = tok(P "<", "'<'") * (tok(P "...", "'...'") * tok(P ">", "'>'") * Cc "any"
  + Ct(option * (tok(P ",", "','") * option) ^ 0) * tok(P ">", "'>'"))
-- "-": no flag at all (a segment without ACK, to see it dropped)
local flags = C(S "SFRP.EWU" ^ 1) + C(P "-") / function() return "" end
local packet = Ct(Cg(Cc "packet", "kind")
  * Cg(tok(C(S "<>"), "'<' or '>'"), "dir")
  * Cg(tok(flags, "TCP flags (S, F, R, P, '.')"), "flags")
  * Cg(tok(uint, "a sequence number"), "seq") * tok(P ":", "':'")
  * Cg(tok(uint, "a sequence number"), "seq_end")
  * tok(P "(", "'('") * Cg(tok(uint, "a length"), "len") * tok(P ")", "')'")
  * (tok(P "ack", "'ack'") * Cg(tok(uint, "an ACK number"), "ack")) ^ -1
  * (tok(P "win", "'win'") * Cg(tok(uint, "a window"), "win")) ^ -1
  * (tok(P "urg", "'urg'") * Cg(tok(uint, "an urgent pointer"), "urg")) ^ -1
  * Cg(options, "options") ^ -1)

local function unsupported(what) return Ct(Cg(Cc "unsupported", "kind") * Cg(Cc(what), "what")) end
-- constructs recognised only to be reported unsupported (their extent is
-- read, so that the next event's line is right)
local python = P "%{" * (1 - P "}%") ^ 0 * P "}%"
local shell = P "`" * C((1 - P "`") ^ 0) * P "`"
local rest_of_line = (1 - nl) ^ 0
local other_packet = S "<>" * hsp * (P "[" + P "(" + P "udp" + P "icmp" + P "gre" + P "mpls" + P "ip") * rest_of_line
-- a python block or a shell command may go without a time (packetdrill's
-- scripts begin with `./defaults.sh`): it runs where it stands, +0
local code = tok(python, "a shell command or python block") * unsupported "python block (%{ }%)"
  + Ct(Cg(Cc "shell", "kind") * Cg(tok(shell, "a shell command or python block"), "command"))
local action = code
  + #other_packet * other_packet * unsupported "packet other than plain TCP ([ecn], IP fields, UDP, ICMP)"
  + packet
  + syscall
local no_time = Cc(nil) / function() return { kind = "rel", t = 0, implicit = true } end
local event = Cp() * (tok(time, "a time (0.1, +0.1, *)") * action + no_time * code) * mark(nil) * (hsp * line_comment) ^ -1
  * mark "the end of the line" * (nl + P(-1)) * Cp()

local option_line = Cp() * P "--" * C((letter + digit + P "-") ^ 1) * (P "=" * C((1 - S " \t\r\n") ^ 0)) ^ -1
  * hsp * (nl + P(-1)) * Cp()

-- line and column of position i in text
local function where(text, i)
  local line, col = 1, i
  for nlpos in text:sub(1, i - 1):gmatch("()\n") do
    line, col = line + 1, i - nlpos
  end
  return line, col
end

local TIME_FREE = { option = true }

-- The system calls the runner makes (synfin.kernel's); any other is
-- reported unsupported.
pkt.SYSCALLS = { socket = true, bind = true, listen = true, accept = true, connect = true, read = true,
  write = true, send = true, recv = true, shutdown = true, close = true, setsockopt = true, getsockopt = true,
  fcntl = true, poll = true }

-- Whether an expression names TCP_INFO or holds a struct of tcp_info's
-- fields (tcpi_...).
local function tcp_info(e)
  if type(e) ~= "table" then return false end
  if e.t == "ident" then return e.v == "TCP_INFO" end
  if e.t == "struct" then
    for _, n in ipairs(e.names) do
      if type(n) == "string" and n:match("^tcpi_") then return true end
    end
    for _, v in pairs(e.fields) do if tcp_info(v) then return true end end
    return false
  end
  for _, v in ipairs(e) do if tcp_info(v) then return true end end
  return false
end

-- A syscall event the runner cannot make, as an unsupported event.
local function classify(e)
  if not pkt.SYSCALLS[e.name] then
    return { kind = "unsupported", what = ("system call %s()"):format(e.name), name = e.name }
  end
  for _, a in ipairs(e.args) do
    if tcp_info(a) then return { kind = "unsupported", what = "TCP_INFO (struct tcp_info)", name = e.name } end
  end
  return e
end

--- Parses a packetdrill script.
-- @tparam string text the script
-- @tparam[opt] string name its file's name, for errors ("script.pkt")
-- @treturn table|nil the events, or nil and "name:line:col: message"
function pkt.parse(text, name)
  if type(text) ~= "string" then error("bad argument #1 to 'parse' (a string expected)", 2) end
  name = name or "script"
  local events, pos, started = {}, 1, false
  while true do
    pos = ws:match(text, pos)
    if pos > #text then break end
    far, far_what = pos, {}
    local e, after
    local o1, oname, oval, o2 = option_line:match(text, pos)
    if o1 and not started then
      e, after = { kind = "option", name = oname, value = oval or true }, o2
      e.line, e.col = where(text, o1)
    else
      local p1, t, act, p2 = event:match(text, pos)
      if not p1 then
        local line, col = where(text, far)
        local got = text:sub(far):match("^[^\n]*") or ""
        if #got > 20 then got = got:sub(1, 20) .. "..." end
        local what = #far_what > 0 and table.concat(far_what, " or ", 1, math.min(#far_what, 4)) or "an event"
        return nil, ("%s:%d:%d: expected %s, got %s"):format(name, line, col, what,
          got == "" and "the end of the line" or ("'" .. got .. "'"))
      end
      started = true
      e, after = act, p2
      if e.kind == "syscall" then e = classify(e) end
      e.time = t
      e.line, e.col = where(text, p1)
    end
    if e.kind == "packet" then
      for _, o in ipairs(type(e.options) == "table" and e.options or {}) do
        if o.kind == "unsupported" then
          e = { kind = "unsupported", what = ("TCP option '%s'"):format(o.value), time = e.time, line = e.line,
            col = e.col }
          break
        end
      end
      if e.kind == "packet" and e.seq_end < e.seq then
        return nil, ("%s:%d:%d: the sequence range %d:%d ends before it starts"):format(name, e.line, e.col, e.seq,
          e.seq_end)
      end
    end
    if not TIME_FREE[e.kind] and e.time == nil then
      return nil, ("%s:%d:%d: an event needs a time"):format(name, e.line, e.col)
    end
    events[#events + 1] = e
    pos = after
  end
  return events
end

--- Parses a .pkt file (see pkt.parse).
-- @tparam string path
-- @treturn table|nil the events, or nil and the error
function pkt.parse_file(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return pkt.parse(text, path)
end

--- An expression as the script wrote it (for messages).
-- @param e an expression
-- @treturn string
function pkt.show(e)
  if type(e) ~= "table" then return tostring(e) end
  if e.t == "ellipsis" then return "..." end
  if e.t == "str" then return ('"%s"'):format(e.v) end
  if e.t == "ident" then return e.v end
  local parts = {}
  if e.t == "struct" then
    for _, n in ipairs(e.names) do
      parts[#parts + 1] = (type(n) == "string" and n .. "=" or "") .. pkt.show(e.fields[n])
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  for i, v in ipairs(e) do parts[i] = pkt.show(v) end
  if e.t == "or" then return table.concat(parts, "|") end
  if e.t == "array" then return "[" .. table.concat(parts, ", ") .. "]" end
  if e.t == "call" then return e.name .. "(" .. table.concat(parts, ", ") .. ")" end
  return "?"
end

return pkt
