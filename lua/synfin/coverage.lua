--- synfin.coverage: the state changes of every net, appended to a file, for
-- the transition coverage report (spec/coverage/report.lua).
--
-- When the environment variable SYNFIN_COVERAGE names a file, init.lua
-- makes coverage.record an observer of every net (records.lua), so that
-- Net:_sync hands it each state record it reaches; it appends one line to
-- that file:
--
--   OLD NEW cause why          e.g. "FIN_WAIT_1 TIME_WAIT segment FIN+ACK of our FIN"
--
-- The file is opened in append mode at the first record, and each line is
-- flushed on its own: one write(2) on an O_APPEND file, so specs that ctest
-- runs in parallel can share the file without mixing their lines. Unset, the
-- variable is looked at once, here, and record does nothing.
--
-- A state change the script never looks at after it happened (c:abort() as a
-- test's last line) is in the C trace but not yet synced; each net recorded
-- from has a sentinel whose finalizer syncs it one last time when the net is
-- collected or the Lua state closes (before its sim is freed: the sentinel
-- was created after the sim, and finalizers run in the reverse order).
local coverage = {}

local path = os.getenv("SYNFIN_COVERAGE")
if not path or path == "" then
  function coverage.record() end
  coverage.off = true -- (no observer: Net:_sync skips its walk)
  return coverage
end

coverage.path = path

local file, broken
-- weak keys: net -> its sentinel (an ephemeron: the sentinel's reference to
-- the net does not keep the net alive)
local sentinels = setmetatable({}, { __mode = "k" })

local function write(line)
  if broken then return end
  if io.type(file) ~= "file" then
    -- first use, or the handle was finalized before a late sentinel
    local err
    file, err = io.open(path, "a")
    if not file then
      broken = true
      io.stderr:write("synfin.coverage: cannot record to ", path, ": ", tostring(err), "\n")
      return
    end
  end
  file:write(line)
  file:flush()
end

--- Records one state record of net (a table with old, new, cause, why).
function coverage.record(net, r)
  write(("%s %s %s %s\n"):format(r.old, r.new, r.cause, r.why or ""))
  if not sentinels[net] then
    sentinels[net] = setmetatable({}, { __gc = function() pcall(net._sync, net) end })
  end
end

return coverage
