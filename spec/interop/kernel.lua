-- spec/interop/kernel.lua: the kernel's side of an interop spec, as seen
-- from a scenario. Starts spec/interop/kernel_peer.py in the background
-- (its output to a file, its PID kept), lets the scenario's net run while
-- it works, reads its result, and stops it by its PID if it is still
-- there. Also `ss -tan` of the namespace, parsed.
local kernel = {}

local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local PEER = HERE .. "kernel_peer.py"

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local Proc = {}
Proc.__index = Proc

--- Starts kernel_peer.py with args (a list); returns a process handle.
function kernel.start(args)
  local out = os.tmpname()
  local words = { "python3", shell_quote(PEER) }
  for _, a in ipairs(args) do words[#words + 1] = shell_quote(a) end
  local cmd = ("%s > %s 2>&1 & echo $!"):format(table.concat(words, " "), shell_quote(out))
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("l"))
  p:close()
  assert(pid, "could not start kernel_peer.py")
  return setmetatable({ pid = pid, out = out }, Proc)
end

function Proc:output()
  local f = io.open(self.out)
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

--- Drives the net until the output has a line with the key `field` (one
-- of kernel_peer.py's Lua table literals), for at most t seconds; returns
-- that line's table.
function Proc:wait_for(net, field, t)
  local deadline = net:now() + t
  while net:now() < deadline do
    for line in self:output():gmatch("[^\n]+") do
      if line:find('["' .. field .. '"]', 1, true) then
        return assert(load("return " .. line, "=kernel_peer.py", "t", {}))()
      end
    end
    net:sleep(0.01)
  end
  error(("kernel_peer.py gave no %q within %g s; its output:\n%s"):format(field, t, self:output()), 2)
end

function Proc:result(net, t) return self:wait_for(net, "done", t or 30).results end

--- Stops it (by its PID, only if it still runs) and removes its output file.
function Proc:stop()
  os.execute(("kill %d 2>/dev/null"):format(self.pid))
  os.remove(self.out)
end

--- The kernel's TCP sockets in this namespace (`ss -tanH`): a list of
-- { state = "SYN-RECV", ["local"] = "10.73.0.1:8080", peer = "10.73.0.2:40000" }.
function kernel.ss()
  local p = assert(io.popen("ss -tanH 2>/dev/null"))
  local list = {}
  for line in p:lines() do
    local state, _, _, l, peer = line:match("^(%S+)%s+(%d+)%s+(%d+)%s+(%S+)%s+(%S+)")
    if state then list[#list + 1] = { state = state, ["local"] = l, peer = peer } end
  end
  p:close()
  return list
end

--- The state of the kernel's socket from `here` to `peer` (both
-- "addr:port"), or nil when there is none.
function kernel.state_of(here, peer)
  for _, s in ipairs(kernel.ss()) do
    if s["local"] == here and s.peer == peer then return s.state end
  end
end

--- Whether this process can run the interop specs: in a namespace of its
-- own (spec/netns/run sets SYNFIN_NETNS), with a TUN device.
function kernel.available() return os.getenv("SYNFIN_NETNS") == "1" end

return kernel
