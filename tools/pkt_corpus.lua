#!/usr/bin/env lua5.4
-- tools/pkt_corpus.lua DIR [synfin --pkt options]: runs a folder of .pkt
-- scripts with `synfin --pkt DIR -j 2 ...` (build/synfin, or $SYNFIN_CLI)
-- and prints the table of spec/pkt/CORPUS.md: per folder, the scripts,
-- passed, failed and unsupported, the scripts' own time beside the runs'
-- wall time; then the unsupported constructs and the first mismatches,
-- most common first. Example:
--   lua5.4 tools/pkt_corpus.lua /tmp/corpus --target sim --lenient-sysctls
local dir = arg[1]
if not dir then
  io.stderr:write("usage: tools/pkt_corpus.lua DIR [synfin --pkt options]\n")
  os.exit(2)
end
local cli = os.getenv("SYNFIN_CLI") or "build/synfin"
local extra = {}
for i = 2, #arg do extra[#extra + 1] = "'" .. arg[i]:gsub("'", "'\\''") .. "'" end
local p = assert(io.popen(("%s --pkt '%s' -j 2 %s 2>&1"):format(cli, dir, table.concat(extra, " "))))
local folders, order, causes = {}, {}, { unsupported = {}, failed = {} }
local summary, seen = nil, {}
for line in p:lines() do
  local status, path, rest = line:match("^(%S+)%s+(%S+%.pkt)(.*)$")
  local script, wall = line:match("%(script ([%d.]+) s, wall ([%d.]+) s%)%s*$")
  -- a failure's line comes again with its details: counted once
  if status and script and not seen[path] and (status == "passed" or status == "failed" or status == "unsupported") then
    seen[path] = true
    local folder = path:sub(#dir + 2):match("^(.*)/[^/]*$") or "."
    local f = folders[folder]
    if not f then
      f = { scripts = 0, passed = 0, failed = 0, unsupported = 0, script = 0, wall = 0 }
      folders[folder], order[#order + 1] = f, folder
    end
    f.scripts, f[status] = f.scripts + 1, f[status] + 1
    f.script, f.wall = f.script + tonumber(script), f.wall + tonumber(wall)
    if status ~= "passed" then
      -- the construct or the mismatch, less the numbers that differ per script
      local why = rest:match("^:%d+: (.-)%s*%[unmodelled") or rest:match("^:%d+: (.-)%s+%(script [%d.]+ s, wall") or "?"
      why = why:gsub("sysctl ([%w%._]+)=%S+", "sysctl %1"):gsub("%d+", "N")
      causes[status][why] = (causes[status][why] or 0) + 1
    end
  elseif line:match("^%d+ scripts on the") then
    summary = line
  end
end
p:close()
table.sort(order)
print("| folder | scripts | passed | failed | unsupported | scripts' own time (s) | wall time (s) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
local t = { scripts = 0, passed = 0, failed = 0, unsupported = 0, script = 0, wall = 0 }
for _, name in ipairs(order) do
  local f = folders[name]
  print(("| %s | %d | %d | %d | %d | %.2f | %.2f |"):format(name, f.scripts, f.passed, f.failed, f.unsupported,
    f.script, f.wall))
  for k in pairs(t) do t[k] = t[k] + f[k] end
end
print(("| **all** | %d | %d | %d | %d | %.2f | %.2f |"):format(t.scripts, t.passed, t.failed, t.unsupported, t.script,
  t.wall))
for _, kind in ipairs({ "unsupported", "failed" }) do
  local list = {}
  for why, n in pairs(causes[kind]) do list[#list + 1] = { why = why, n = n } end
  table.sort(list, function(a, b) return a.n > b.n or a.n == b.n and a.why < b.why end)
  print(("\n%s, by cause:\n"):format(kind == "failed" and "First mismatches" or "Unsupported constructs"))
  for _, x in ipairs(list) do print(("- %d: %s"):format(x.n, x.why)) end
end
if summary then print("\n" .. summary) end
