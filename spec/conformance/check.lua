-- The conformance matrix check: spec/conformance/matrix.md, the specs and
-- RFC 9293 Appendix B must agree.
--
--   lua5.4 spec/conformance/check.lua [SOURCE_DIR [RFC9293_TXT]]
--
-- It reads
--   * every requirement ID of RFC 9293 Appendix B (MUST-n, SHLD-n, MAY-n,
--     REC-n) from the RFC text: the second argument, $SYNFIN_RFC9293, or
--     SOURCE_DIR/spec/conformance/rfc9293.txt (the RFC, whole, as the RFC
--     Editor publishes it: the repository carries it so that the check
--     needs nothing outside it);
--   * the matrix: one table row per ID, `| ID | requirement | section |
--     status | evidence or note |`, status `implemented`, `not applicable` or
--     `not yet`;
--   * the IDs the specs name: in the descriptions of it(...), describe(...)
--     and pending(...) of spec/*_spec.lua, and in the comments of
--     spec/core/*.c. Naming an ID there claims that the test proves it.
-- and fails (exit status 1, with a list) when
--   * an Appendix B ID is missing from the matrix, or is there twice, or has
--     no valid status, or the matrix has an ID Appendix B does not;
--   * an ID marked `implemented` is named by no spec, or an ID a spec names
--     is not marked `implemented` (or is not an Appendix B ID at all);
--   * the evidence of an `implemented` row cites no spec, cites a file that
--     does not name the ID, or quotes an it/describe description the cited
--     file does not have or that does not name the ID; a `not yet` or
--     `not applicable` row has no note.
-- It prints a summary line, "conformance: MUST 40/69 implemented, ...", then
-- "N passed, N failed" (N checks). Standard library only (io.popen lists the
-- spec directories).

local root = (arg[1] or "."):gsub("/+$", "")
if root == "" then root = "/" end

local failures, passed = {}, 0
local function check(ok, msg)
  if ok then
    passed = passed + 1
  else
    failures[#failures + 1] = msg
  end
  return ok
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The files of dir whose names match the Lua pattern, sorted.
local function list(dir, pat)
  local p = io.popen("ls -1 " .. shell_quote(dir) .. " 2>/dev/null")
  local names = {}
  if p then
    for name in p:lines() do
      if name:match(pat) then names[#names + 1] = name end
    end
    p:close()
  end
  table.sort(names)
  return names
end

local KINDS = { MUST = true, SHLD = true, MAY = true, REC = true }
local ORDER = { "MUST", "SHLD", "MAY", "REC" }

-- Requirement IDs in a piece of text, in order, each once.
local function ids_in(text)
  local out, seen = {}, {}
  for kind, num in text:gmatch("%f[%w_](%u+)%-(%d+)%f[^%w_]") do
    local id = kind .. "-" .. num
    if KINDS[kind] and not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out
end

local function id_less(a, b)
  local ka, na = a:match("^(%u+)%-(%d+)$")
  local kb, nb = b:match("^(%u+)%-(%d+)$")
  local oa, ob = 0, 0
  for i, k in ipairs(ORDER) do
    if k == ka then oa = i end
    if k == kb then ob = i end
  end
  if oa ~= ob then return oa < ob end
  return tonumber(na) < tonumber(nb)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, id_less)
  return keys
end

------------------------------------------------------------------------------
-- RFC 9293 Appendix B
------------------------------------------------------------------------------

local rfc_path = arg[2] or os.getenv("SYNFIN_RFC9293") or (root .. "/spec/conformance/rfc9293.txt")
local rfc = read(rfc_path)
local appendix = {} -- ID -> true
do
  local body
  if rfc then
    -- the appendix itself starts at the left margin (the table of contents
    -- indents its entry) and ends with its table's caption
    local from = rfc:find("\nAppendix B%.%s+TCP Requirement Summary")
    local to = from and rfc:find("Table 8: TCP Requirements Summary", from, true)
    body = from and rfc:sub(from, to or #rfc)
  end
  local ids = body and ids_in(body) or {}
  for _, id in ipairs(ids) do appendix[id] = true end
  check(#ids > 0, ("RFC 9293 Appendix B: no requirement IDs found in %s%s")
    :format(rfc_path, rfc and "" or " (cannot read it)"))
end

------------------------------------------------------------------------------
-- The specs: it/describe descriptions of spec/*_spec.lua, comments of spec/core/*.c
------------------------------------------------------------------------------

-- A small Lua lexer: the string arguments of it/describe/pending calls, with
-- their line numbers. Comments and other strings are skipped.
local function lua_descriptions(src)
  local toks, i, n, line = {}, 1, #src, 1
  local function advance(to)
    local _, nl = src:sub(i, to - 1):gsub("\n", "")
    line = line + nl
    i = to
  end
  while i <= n do
    local c = src:sub(i, i)
    if c:match("%s") then
      advance(i + 1)
    elseif src:sub(i, i + 1) == "--" then
      local eq = src:match("^%[(=*)%[", i + 2)
      local e
      if eq then
        local _, close = src:find("]" .. eq .. "]", i + 4 + #eq, true)
        e = close and close + 1
      else
        e = src:find("\n", i, true)
      end
      advance(e or n + 1)
    elseif c == '"' or c == "'" then
      local j, buf, at = i + 1, {}, line
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          local e = src:sub(j + 1, j + 1)
          local map = { n = "\n", t = "\t", ['"'] = '"', ["'"] = "'", ["\\"] = "\\" }
          buf[#buf + 1] = map[e] or ("\\" .. e)
          j = j + 2
        elseif d == c or d == "\n" then
          break
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      toks[#toks + 1] = { t = "str", v = table.concat(buf), line = at }
      advance(j + 1)
    elseif c == "[" and src:match("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local s = i + 2 + #eq
      local e1, e2 = src:find("]" .. eq .. "]", s, true)
      toks[#toks + 1] = { t = "str", v = src:sub(s, (e1 or n + 1) - 1), line = line }
      advance((e2 or n) + 1)
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      toks[#toks + 1] = { t = "name", v = w, line = line }
      advance(i + #w)
    else
      toks[#toks + 1] = { t = "op", v = c, line = line }
      advance(i + 1)
    end
  end
  local out = {}
  for k, tk in ipairs(toks) do
    if tk.t == "name" and (tk.v == "it" or tk.v == "describe" or tk.v == "pending") then
      local prev = toks[k - 1]
      if not (prev and prev.t == "op" and (prev.v == "." or prev.v == ":")) then
        local j = k + 1
        while toks[j] and toks[j].t == "op" and toks[j].v == "(" do j = j + 1 end
        if toks[j] and toks[j].t == "str" then out[#out + 1] = { text = toks[j].v, line = toks[j].line } end
      end
    end
  end
  return out
end

-- The comments of a C file (string and character literals skipped), with
-- the line each starts on.
local function c_comments(src)
  local out, i, n, line = {}, 1, #src, 1
  while i <= n do
    local c, two = src:sub(i, i), src:sub(i, i + 1)
    local j
    if two == "/*" then
      local e = src:find("*/", i + 2, true)
      j = e and e + 2 or n + 1
      out[#out + 1] = { text = src:sub(i, j - 1), line = line }
    elseif two == "//" then
      j = src:find("\n", i, true) or n + 1
      out[#out + 1] = { text = src:sub(i, j - 1), line = line }
    elseif c == '"' or c == "'" then
      j = i + 1
      while j <= n and src:sub(j, j) ~= c and src:sub(j, j) ~= "\n" do
        j = j + (src:sub(j, j) == "\\" and 2 or 1)
      end
      j = j + 1
    else
      j = i + 1
    end
    local _, nl = src:sub(i, j - 1):gsub("\n", "")
    line = line + nl
    i = j
  end
  return out
end

local named = {}       -- ID -> { "file:line", ... }
local named_by = {}    -- file name -> { ID -> true }
local descriptions = {} -- file name -> { description -> true }
local spec_files = 0

-- Records the IDs `text` names, found in file `name` (shown as `path`).
local function note_ids(name, path, line, text)
  named_by[name] = named_by[name] or {}
  for _, id in ipairs(ids_in(text)) do
    named[id] = named[id] or {}
    table.insert(named[id], ("%s:%d"):format(path, line))
    named_by[name][id] = true
  end
end

for _, name in ipairs(list(root .. "/spec", "_spec%.lua$")) do
  local src = read(root .. "/spec/" .. name)
  if src then
    spec_files = spec_files + 1
    descriptions[name] = {}
    named_by[name] = {}
    for _, d in ipairs(lua_descriptions(src)) do
      descriptions[name][d.text] = true
      note_ids(name, "spec/" .. name, d.line, d.text)
    end
  end
end
for _, name in ipairs(list(root .. "/spec/core", "%.c$")) do
  local src = read(root .. "/spec/core/" .. name)
  if src then
    spec_files = spec_files + 1
    named_by[name] = {}
    for _, cm in ipairs(c_comments(src)) do
      note_ids(name, "spec/core/" .. name, cm.line, cm.text)
    end
  end
end
check(spec_files > 0, "no spec files found under " .. root .. "/spec")

------------------------------------------------------------------------------
-- The matrix
------------------------------------------------------------------------------

local STATUSES = { ["implemented"] = true, ["not applicable"] = true, ["not yet"] = true }
local matrix_path = root .. "/spec/conformance/matrix.md"
local matrix = read(matrix_path)
check(matrix ~= nil, "cannot read " .. matrix_path)
matrix = matrix or ""

local rows = {} -- ID -> { status, evidence, line }
local dup = {}
do
  local status_col, evidence_col = 4, 5
  local ln = 0
  for text in (matrix .. "\n"):gmatch("([^\n]*)\n") do
    ln = ln + 1
    if text:match("^%s*|") then
      local cells = {}
      for cell in text:gsub("^%s*|", ""):gmatch("([^|]*)|") do
        cells[#cells + 1] = cell:match("^%s*(.-)%s*$")
      end
      if cells[1] == "ID" then
        for k, v in ipairs(cells) do
          if v:lower() == "status" then status_col = k end
          if v:lower():match("^evidence") then evidence_col = k end
        end
      else
        local id = (cells[1] or ""):gsub("`", ""):match("^(%u+%-%d+)$")
        if id then
          local status = (cells[status_col] or ""):gsub("`", ""):gsub("%*", ""):lower()
          status = status:match("^%s*(.-)%s*$")
          if rows[id] then dup[id] = true end
          rows[id] = { status = status, evidence = cells[evidence_col] or "", line = ln }
        end
      end
    end
  end
end

-- The citations of an evidence cell: file names, and quoted descriptions
-- after "file.lua:" (citations are separated by <br>).
local function citations(evidence)
  local files, quotes = {}, {}
  for part in (evidence .. "<br>"):gmatch("(.-)<br>") do
    for file in part:gmatch("([%w_%-]+_spec%.lua)") do files[#files + 1] = file end
    for file in part:gmatch("(test_[%w_]+%.c)") do files[#files + 1] = file end
    local file, quote = part:match("([%w_%-]+_spec%.lua):%s*\"(.*)\"")
    if file then quotes[#quotes + 1] = { file = file, text = quote } end
  end
  return files, quotes
end

------------------------------------------------------------------------------
-- The checks
------------------------------------------------------------------------------

-- every Appendix B ID has one row with a valid status
for _, id in ipairs(sorted_keys(appendix)) do
  local row = rows[id]
  if check(row ~= nil, id .. ": in RFC 9293 Appendix B but missing from the matrix") then
    check(not dup[id], id .. ": more than one row in the matrix")
    check(STATUSES[row.status], ("%s: matrix.md:%d: status '%s' is none of implemented, not applicable, not yet")
      :format(id, row.line, row.status))
  end
end
-- every row is an Appendix B ID
for _, id in ipairs(sorted_keys(rows)) do
  if next(appendix) then
    check(appendix[id], ("%s: matrix.md:%d: not a requirement ID of RFC 9293 Appendix B"):format(id, rows[id].line))
  end
end

-- the matrix and the specs agree
for _, id in ipairs(sorted_keys(rows)) do
  local row = rows[id]
  if row.status == "implemented" then
    check(named[id] ~= nil, ("%s: marked implemented (matrix.md:%d) but no spec names it"):format(id, row.line))
    local files, quotes = citations(row.evidence)
    if check(#files > 0, ("%s: marked implemented (matrix.md:%d) but its evidence cites no spec"):format(id, row.line)) then
      for _, f in ipairs(files) do
        check(named_by[f] and named_by[f][id],
          ("%s: matrix.md:%d cites %s, which %s"):format(id, row.line, f,
            named_by[f] and ("does not name " .. id) or "is not a spec file"))
      end
      for _, q in ipairs(quotes) do
        local names = false
        for _, n in ipairs(ids_in(q.text)) do names = names or n == id end
        check(descriptions[q.file] and descriptions[q.file][q.text] and names,
          ("%s: matrix.md:%d quotes %s: \"%s\", %s"):format(id, row.line, q.file, q.text,
            (descriptions[q.file] and descriptions[q.file][q.text]) and ("a description that does not name " .. id)
              or "which has no such it/describe description"))
      end
    end
  elseif STATUSES[row.status] then
    check(row.evidence:match("%S") ~= nil, ("%s: marked %s (matrix.md:%d) without a note"):format(id, row.status, row.line))
  end
end
for _, id in ipairs(sorted_keys(named)) do
  local ok = appendix[id] and rows[id] and rows[id].status == "implemented"
  check(ok, ("%s: named by %s but %s"):format(id, table.concat(named[id], ", "),
    not appendix[id] and "not a requirement ID of RFC 9293 Appendix B"
      or not rows[id] and "missing from the matrix"
      or ("marked '" .. rows[id].status .. "' in the matrix (matrix.md:" .. rows[id].line .. ")")))
end

------------------------------------------------------------------------------
-- The report
------------------------------------------------------------------------------

if #failures > 0 then
  io.stderr:write("conformance matrix: ", #failures, " problem(s):\n")
  for _, f in ipairs(failures) do io.stderr:write("  FAIL ", f, "\n") end
end

local total, impl, na, notyet = {}, {}, {}, {}
for id in pairs(appendix) do
  local kind = id:match("^(%u+)")
  total[kind] = (total[kind] or 0) + 1
  local st = rows[id] and rows[id].status
  if st == "implemented" then impl[kind] = (impl[kind] or 0) + 1 end
  if st == "not applicable" then na[kind] = (na[kind] or 0) + 1 end
  if st == "not yet" then notyet[kind] = (notyet[kind] or 0) + 1 end
end
local parts, rest = {}, {}
for _, k in ipairs(ORDER) do
  if total[k] then
    parts[#parts + 1] = ("%s %d/%d%s"):format(k, impl[k] or 0, total[k], #parts == 0 and " implemented" or "")
    rest[#rest + 1] = ("%s %d not applicable, %d not yet"):format(k, na[k] or 0, notyet[k] or 0)
  end
end
print("conformance: " .. table.concat(parts, ", ") .. " (" .. table.concat(rest, "; ") .. ")")
print(("%d passed, %d failed"):format(passed, #failures))
os.exit(#failures == 0 and 0 or 1)
