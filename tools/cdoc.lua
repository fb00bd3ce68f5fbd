#!/usr/bin/env lua5.4
-- cdoc.lua: the C API reference, from the public headers' comments.
--
--   lua5.4 tools/cdoc.lua [-o FILE] [-C ROOT] [HEADER ...]
--
-- Reads the headers (by default core/synfin.h, core/io/sim.h, core/io/pcap.h, core/io/rt.h,
-- core/io/tun.h, core/io/raw.h, core/hook.h and core/trace.h, relative to
-- ROOT, the repository: this script's parent directory) and writes one Markdown page to FILE (standard output without
-- -o): for each header its opening comment, then its declarations grouped
-- by the header's banner sections (/* ---- title ---- */), each with the
-- comment right above it and the declaration itself.
--
-- A declaration is a function (a prototype or a static inline definition),
-- a typedef, an enum, a struct or a #define (include guards aside). Each
-- one must have a comment of its own right above it (no blank line between;
-- a banner does not count). The page is written anyway, but the exit status
-- is 1 and standard error lists every declaration without one, as
-- "core/x.h:LINE: NAME: no comment above it". Exit status 2: bad usage or
-- an unreadable header.

local DEFAULT_HEADERS = { "core/synfin.h", "core/io/sim.h", "core/io/pcap.h", "core/io/rt.h",
  "core/io/tun.h", "core/io/raw.h", "core/hook.h", "core/trace.h" }

-- Where each header is installed (README, "Install"): core/X.h is <synfin/X.h>.
local function include_name(path)
  local rel = path:match("core/(.+)$")
  return rel and ("synfin/" .. rel) or path
end

local function die(msg)
  io.stderr:write("cdoc: ", msg, "\n")
  os.exit(2)
end

------------------------------------------------------------------------------
-- Reading a header: comments, preprocessor lines and declarations, in order
------------------------------------------------------------------------------

-- Splits a header into items: { kind = "comment" | "pp" | "decl", text,
-- first, last (line numbers) }. Comments inside a declaration (struct
-- members, enum constants) stay in its text.
local function scan(src)
  local items = {}
  local i, n, line = 1, #src, 1
  local decl, decl_first, depth = nil, nil, 0
  local last_decl_end = nil -- the line on which the last declaration ended

  local function finish_decl(last)
    local text = decl:gsub("^%s+", ""):gsub("%s+$", "")
    if text ~= "" then
      items[#items + 1] = { kind = "decl", text = text, first = decl_first, last = last }
      last_decl_end = last
    end
    decl, decl_first, depth = nil, nil, 0
  end

  local at_line_start = true
  while i <= n do
    local c = src:sub(i, i)
    local two = src:sub(i, i + 1)
    if two == "/*" then
      local j = src:find("*/", i + 2, true)
      if not j then die("unterminated comment at line " .. line) end
      local text = src:sub(i, j + 1)
      local first = line
      local _, nl = text:gsub("\n", "")
      line = line + nl
      if decl then
        decl = decl .. text
      elseif last_decl_end == first and #items > 0 and items[#items].kind == "decl" then
        -- a comment after a declaration, on its line: part of it
        items[#items].text = items[#items].text .. " " .. text
      else
        items[#items + 1] = { kind = "comment", text = text, first = first, last = line }
      end
      i = j + 2
      at_line_start = false
    elseif two == "//" then
      local j = src:find("\n", i, true) or n + 1
      local text = src:sub(i, j - 1)
      if decl then
        decl = decl .. text
      elseif last_decl_end == line and #items > 0 and items[#items].kind == "decl" then
        items[#items].text = items[#items].text .. " " .. text
      else
        items[#items + 1] = { kind = "comment", text = text, first = line, last = line }
      end
      i = j
    elseif c == "#" and at_line_start and not decl then
      -- a preprocessor line, with its continuations
      local first, j = line, i
      while true do
        local e = src:find("\n", j, true) or n + 1
        if src:sub(e - 1, e - 1) == "\\" and e <= n then
          line = line + 1
          j = e + 1
        else
          items[#items + 1] = { kind = "pp", text = src:sub(i, e - 1), first = first, last = line }
          i = e
          break
        end
      end
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and src:sub(j, j) ~= c do
        if src:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      decl = (decl or "") .. src:sub(i, j)
      decl_first = decl_first or line
      i = j + 1
      at_line_start = false
    elseif c == "\n" then
      if decl then decl = decl .. c end
      line = line + 1
      i = i + 1
      at_line_start = true
    elseif c:match("%s") then
      if decl then decl = decl .. c end
      i = i + 1
    else
      at_line_start = false
      if not decl then decl, decl_first = "", line end
      decl = decl .. c
      i = i + 1
      if c == "{" then
        if depth == 0 and decl:match('^%s*extern%s+"C"%s*{$') then
          decl, decl_first = nil, nil -- extern "C" {: not a declaration
        else
          depth = depth + 1
        end
      elseif c == "}" then
        if depth == 0 then
          decl, decl_first = nil, nil -- the closing brace of extern "C"
        else
          depth = depth - 1
          -- the end of a function's body (a static inline definition)
          if depth == 0 and decl:match("^[^{]*%)%s*{") and not decl:match("^%s*typedef") then
            finish_decl(line)
          end
        end
      elseif c == ";" and depth == 0 then
        finish_decl(line)
      end
    end
  end
  return items
end

------------------------------------------------------------------------------
-- Understanding the items
------------------------------------------------------------------------------

-- The text of a comment, without its markers and its left margin of stars.
local function comment_text(raw)
  if raw:match("^//") then return (raw:gsub("^//+%s?", "")) end
  local body = raw:gsub("^/%*+", ""):gsub("%*+/$", "")
  local lines = {}
  for l in (body .. "\n"):gmatch("(.-)\n") do
    l = l:gsub("^%s*%*+ ?", "", 1):gsub("%s+$", "")
    lines[#lines + 1] = l
  end
  while lines[1] and lines[1]:match("^%s*$") do table.remove(lines, 1) end
  while lines[#lines] and lines[#lines]:match("^%s*$") do table.remove(lines) end
  -- the common indentation (a continuation of a first line that began
  -- right after the /*)
  local indent
  for k = 2, #lines do
    if lines[k] ~= "" then
      local w = #lines[k]:match("^ *")
      indent = indent and math.min(indent, w) or w
    end
  end
  if indent and indent > 0 then
    for k = 2, #lines do lines[k] = lines[k]:sub(indent + 1) end
  end
  for k = 1, #lines do lines[k] = lines[k]:gsub("^%s+", "") end
  return table.concat(lines, "\n")
end

-- A banner, /* ---- title ---- */, perhaps with an introduction to its
-- section on the lines after the title: the title and the introduction
-- (or nil), or nil when the comment is not a banner.
local function banner_title(raw)
  local first, rest = raw:match("^([^\n]*)\n?(.*)$")
  local t = first:match("^/%*%s*%-%-%-%-+%s*(.-)%s*%-*%s*%*/$")
    or first:match("^/%*%s*%-%-%-%-+%s*(.-)%s*%-*%s*$")
  if not t or t == "" then return nil end
  local intro = rest ~= "" and comment_text("/*\n" .. rest) or nil
  return t, (intro ~= "" and intro or nil)
end

-- The code of a declaration without its comments, on one line.
local function code_only(text)
  return (text:gsub("/%*.-%*/", " "):gsub("//[^\n]*", " "):gsub("%s+", " "))
end

-- The constants of an enum body.
local function enum_constants(body)
  local names = {}
  for entry in (code_only(body) .. ","):gmatch("([^,]*),") do
    local name = entry:match("^%s*([%a_][%w_]*)")
    if name then names[#names + 1] = name end
  end
  return names
end

-- The name a declaration declares, and what it is.
local function decl_name(item)
  if item.kind == "pp" then
    return item.text:match("^#%s*define%s+([%a_][%w_]*)"), "macro"
  end
  local code = code_only(item.text)
  local flat = code:gsub("%b{}", "{}")
  if flat:match("^%s*typedef") then
    local fp = flat:match("%(%s*%*%s*([%a_][%w_]*)%s*%)%s*%(")
    if fp then return fp, "function pointer type" end
    return flat:match("([%a_][%w_]*)%s*;%s*$"), "type"
  end
  local tag = flat:match("^%s*enum%s*([%a_]*)%s*{}%s*;")
  if tag then
    if tag ~= "" then return "enum " .. tag, "enum" end
    local names = enum_constants(code:match("%b{}"):sub(2, -2))
    if #names <= 4 then return table.concat(names, ", "), "constants" end
    return names[1] .. ", " .. names[2] .. ", ... " .. names[#names], "constants"
  end
  local st = flat:match("^%s*(struct%s+[%a_][%w_]*)%s*{}")
  if st then return st, "type" end
  local fn = flat:match("([%a_][%w_]*)%s*%b()%s*[;{]")
  if fn then return fn, "function" end
  return flat:match("([%a_][%w_]*)%s*[%[;=]"), "variable"
end

------------------------------------------------------------------------------
-- Markdown
------------------------------------------------------------------------------

-- Plain text (no code span in it) with the characters Markdown would take
-- for markup escaped.
local function escape(s)
  s = s:gsub("\\", "\\\\"):gsub("%*", "\\*")
  s = s:gsub("<(%a)", "\\<%1"):gsub("<(/)", "\\<%1")
  -- an underscore that opens or closes a word (not one inside it)
  s = s:gsub("(%f[%w_]_)", "\\_"):gsub("(_%f[^%w_])", "\\_")
  return s
end

-- A comment's text as Markdown prose: `code` stays a code span, the rest is
-- escaped (the page reads the same as text and as HTML).
local function prose(text)
  local out = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do
    local parts, pos = {}, 1
    while true do
      local a, b = l:find("`[^`]+`", pos)
      if not a then break end
      parts[#parts + 1] = escape(l:sub(pos, a - 1)) .. l:sub(a, b)
      pos = b + 1
    end
    parts[#parts + 1] = escape(l:sub(pos))
    l = table.concat(parts)
    l = l:gsub("^(%s*)([#>+-])", "%1\\%2"):gsub("^(%s*%d+)%.", "%1\\.")
    out[#out + 1] = l
  end
  return table.concat(out, "\n")
end

-- A GitHub-style anchor for a heading.
local function anchor(s)
  return (s:lower():gsub("[^%w%s_-]", ""):gsub("%s", "-"))
end

local function main(args)
  local out_path, root
  local headers = {}
  local k = 1
  while k <= #args do
    local a = args[k]
    if a == "-o" then
      out_path, k = args[k + 1], k + 2
    elseif a == "-C" then
      root, k = args[k + 1], k + 2
    elseif a == "-h" or a == "--help" then
      io.write("usage: lua5.4 tools/cdoc.lua [-o FILE] [-C ROOT] [HEADER ...]\n")
      return 0
    elseif a:match("^%-") then
      die("unknown option " .. a .. " (usage: cdoc.lua [-o FILE] [-C ROOT] [HEADER ...])")
    else
      headers[#headers + 1], k = a, k + 1
    end
  end
  if not root then
    local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
    root = dir .. "/.."
  end
  if #headers == 0 then headers = DEFAULT_HEADERS end

  local missing = {}
  local parts = {}
  local function w(s) parts[#parts + 1] = s end

  w("# synfin C API reference\n\n")
  w("The public C API of synfin, from the comments of its headers (`tools/cdoc.lua` writes this page;\n")
  w("`cmake --build build --target docs` puts it in `build/docs/c-api.md`). Installed, `core/X.h` is\n")
  w("`<synfin/X.h>`; link with `pkg-config --libs synfin`. Times are microseconds of the driver's clock.\n\n")
  for _, h in ipairs(headers) do
    w(("- [`<%s>`](#%s) (`%s`)\n"):format(include_name(h), anchor(include_name(h)), h))
  end

  for _, h in ipairs(headers) do
    local f = io.open(root .. "/" .. h, "r")
    if not f then die("cannot read " .. root .. "/" .. h) end
    local src = f:read("a")
    f:close()
    local items = scan(src)

    -- the include guard: #ifndef X / #define X
    local guard = nil
    for _, it in ipairs(items) do
      if it.kind == "pp" then
        guard = it.text:match("^#%s*ifndef%s+([%a_][%w_]*)")
        break
      end
    end

    w(("\n## %s\n\n"):format(include_name(h)))
    w(("`#include <%s>` (`%s`)\n\n"):format(include_name(h), h))
    local first = items[1]
    if first and first.kind == "comment" and first.first == 1 then
      w(prose(comment_text(first.text)) .. "\n")
    end

    local sections = {} -- { title, entries = { { name, what, comment, code } } }
    local current = { title = nil, entries = {} }
    sections[1] = current
    for idx, it in ipairs(items) do
      if it.kind == "comment" and banner_title(it.text) then
        local title, intro = banner_title(it.text)
        current = { title = title, intro = intro, entries = {} }
        sections[#sections + 1] = current
      elseif it.kind == "decl" or (it.kind == "pp" and it.text:match("^#%s*define")) then
        local name, what = decl_name(it)
        if not (it.kind == "pp" and name == guard) then
          local prev = items[idx - 1]
          local doc
          if prev and prev.kind == "comment" and prev.last == it.first - 1
            and not banner_title(prev.text) and not (prev.first == 1 and idx == 2) then
            doc = comment_text(prev.text)
          end
          name = name or ("(a declaration at line " .. it.first .. ")")
          if not doc or doc == "" then
            missing[#missing + 1] = ("%s:%d: %s: no comment above it"):format(h, it.first, name)
          end
          current.entries[#current.entries + 1] = { name = name, what = what, doc = doc, code = it.text }
        end
      end
    end

    for _, sec in ipairs(sections) do
      if #sec.entries > 0 then
        if sec.title then w(("\n### %s\n"):format(prose(sec.title))) end
        if sec.intro then w("\n" .. prose(sec.intro) .. "\n") end
        for _, e in ipairs(sec.entries) do
          w(("\n#### `%s`\n\n"):format(e.name))
          if e.doc then w(prose(e.doc) .. "\n\n") end
          w("```c\n" .. e.code .. "\n```\n")
        end
      end
    end
  end

  local text = table.concat(parts)
  if out_path then
    local f, err = io.open(out_path, "w")
    if not f then die("cannot write " .. tostring(err)) end
    f:write(text)
    f:close()
  else
    io.write(text)
  end
  if #missing > 0 then
    io.stderr:write(("cdoc: %d public declaration%s without a comment above:\n"):format(#missing,
      #missing == 1 and "" or "s"))
    for _, m in ipairs(missing) do io.stderr:write("  ", m, "\n") end
    return 1
  end
  return 0
end

os.exit(main(arg))
