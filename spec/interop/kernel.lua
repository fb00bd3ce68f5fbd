-- spec/interop/kernel.lua: the kernel's side of an interop spec, as seen
-- from a scenario. Starts programs on the kernel's TCP in the background
-- (spec/interop/kernel_peer.py, curl, python3 -m http.server: their output
-- to a file, their PID kept), lets the scenario's net run while they work,
-- reads their results, and stops them by their PID if they are still
-- there. Also `ss -tan` of the namespace, parsed. The examples in
-- examples/linux/ use it too.
local kernel = {}

local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local PEER = HERE .. "kernel_peer.py"
kernel.PEER = PEER -- its path, for kernel.spawn

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local Proc = {}
Proc.__index = Proc

--- Whether a program is on the PATH.
function kernel.have(program)
  return os.execute(("command -v %s >/dev/null 2>&1"):format(shell_quote(program))) == true
end

--- Starts argv (a list: the program, then its arguments) in the
-- background, in the directory opts.cwd if given; returns a process handle
-- (pid: the program's own PID). Fails clearly when the program is missing.
function kernel.spawn(argv, opts)
  opts = opts or {}
  if not kernel.have(argv[1]) then
    error(("%s is not installed (the interop specs need it: apt-get install %s)"):format(argv[1], argv[1]), 2)
  end
  local out, rc, pidf = os.tmpname(), os.tmpname(), os.tmpname()
  os.remove(rc)
  os.remove(pidf)
  local words = {}
  for i, a in ipairs(argv) do words[i] = shell_quote(a) end
  local cmd = "exec " .. table.concat(words, " ")
  if opts.cwd then cmd = "cd " .. shell_quote(opts.cwd) .. " && " .. cmd end
  -- the subshell execs the program (same PID), a wrapper waits for it and
  -- keeps its exit status; the PID is read back from a file, at most 2 s
  local script = ("( ( %s ) <%s >%s 2>&1 & echo $! >%s; wait $!; echo $? >%s ) >/dev/null 2>&1 &\n"
    .. "i=0; while [ ! -s %s ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; cat %s")
    :format(cmd, "/dev/null", shell_quote(out), shell_quote(pidf), shell_quote(rc), shell_quote(pidf), shell_quote(pidf))
  local p = assert(io.popen(script))
  local pid = tonumber(p:read("l"))
  p:close()
  os.remove(pidf)
  assert(pid, "could not start " .. argv[1])
  return setmetatable({ pid = pid, out = out, rc = rc, name = argv[1] }, Proc)
end

--- Starts kernel_peer.py with args (a list); returns a process handle.
function kernel.start(args)
  local argv = { "python3", PEER }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return kernel.spawn(argv)
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

--- Its exit status once it has ended, else nil.
function Proc:exit_code()
  local f = io.open(self.rc)
  if not f then return nil end
  local code = tonumber(f:read("l"))
  f:close()
  return code
end

--- Drives the net until it has ended, for at most t seconds; returns its
-- exit status and output.
function Proc:wait_exit(net, t)
  local deadline = net:now() + t
  while net:now() < deadline do
    local code = self:exit_code()
    if code then return code, self:output() end
    net:sleep(0.01)
  end
  error(("%s (pid %d) did not end within %g s; its output:\n%s"):format(self.name, self.pid, t, self:output()), 2)
end

--- Stops it (by its PID, only if it still runs) and removes its files.
function Proc:stop()
  if not self:exit_code() then
    -- then let its wrapper write the status, so that no file is left behind
    os.execute(("kill %d 2>/dev/null; i=0; while [ ! -s %s ] && [ $i -lt 100 ]; do sleep 0.01; i=$((i+1)); done")
      :format(self.pid, shell_quote(self.rc)))
  end
  os.remove(self.out)
  os.remove(self.rc)
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

--- An endpoint as ss writes it: "10.73.0.1:80", "[fd00:73::1]:80".
kernel.endpoint = require("synfin.util").endpoint

--- The state of the kernel's socket from `here` to `peer` (both
-- "addr:port", kernel.endpoint), or nil when there is none.
function kernel.state_of(here, peer)
  for _, s in ipairs(kernel.ss()) do
    if s["local"] == here and s.peer == peer then return s.state end
  end
end

--- Drives the net until the kernel has a listening socket at here
-- ("addr:port"), for at most t seconds (a server just started).
function kernel.wait_listening(net, here, t)
  local deadline = net:now() + t
  while net:now() < deadline do
    -- ss writes a listener's peer "0.0.0.0:*", "*:*" or, over IPv6, "[::]:*"
    for _, any in ipairs { "0.0.0.0:*", "*:*", "[::]:*" } do
      if kernel.state_of(here, any) == "LISTEN" then return end
    end
    net:sleep(0.02)
  end
  error(("nothing listens at %s after %g s; ss -tan:\n%s"):format(here, t, kernel.ss_text()), 2)
end

--- `ss -tan` of the namespace, as text (to print).
function kernel.ss_text()
  local p = assert(io.popen("ss -tan 2>/dev/null"))
  local s = p:read("a")
  p:close()
  return s
end

--- The segment records of a net's run (those pred accepts, if given).
function kernel.segments(net, pred)
  local out = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and (not pred or pred(r)) then out[#out + 1] = r end
  end
  return out
end

--- The states a synfin host's connections went through, in order.
function kernel.states(net, host)
  local out = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "state" and r.host == host.index and r.rport ~= 0 then out[#out + 1] = r.new end
  end
  return out
end

--- What an interop test makes, undone when it ends however it ends: a
-- device left behind would keep its subnet's route, a kernel program would
-- keep running. Call with busted's after_each (a module does not see
-- busted's globals); returns on_cleanup(fn) (run after the test, the last
-- registered first), start(args) and spawn(argv, opts) (kernel programs
-- stopped after the test), and tun_net(addr, opts) (a synfin.tun net,
-- closed after the test, with a synfin host at addr).
function kernel.scope(after_each)
  local fns = {}
  local s = {}
  function s.on_cleanup(fn) table.insert(fns, 1, fn) end
  after_each(function()
    for _, fn in ipairs(fns) do pcall(fn) end
    fns = {}
  end)
  function s.start(args)
    local proc = kernel.start(args)
    s.on_cleanup(function() proc:stop() end)
    return proc
  end
  function s.spawn(argv, opts)
    local proc = kernel.spawn(argv, opts)
    s.on_cleanup(function() proc:stop() end)
    return proc
  end
  function s.tun_net(addr, opts)
    local net = require("synfin").tun(opts)
    s.on_cleanup(function() net:close() end)
    return net, net:host(addr, { name = "synfin" })
  end
  return s
end

--- Makes the veth pair the raw specs use: veth0, the kernel's end, with
-- kernel_addr/24 (/64 for IPv6), and veth1, synfin's end, with no address (so the kernel
-- never answers for synfin there); both up within a second, or an error.
-- An old pair goes first; kernel.remove_veth_pair() takes it away.
function kernel.veth_pair(kernel_addr)
  kernel.remove_veth_pair()
  for _, cmd in ipairs { "ip link add veth0 type veth peer name veth1",
      -- nodad: an IPv6 address is usable at once, not after Duplicate
      -- Address Detection's second (RFC 4862 §5.4)
      "ip addr add " .. kernel_addr .. (kernel_addr:find(":", 1, true) and "/64 dev veth0 nodad" or "/24 dev veth0"),
      "ip link set veth0 up",
      "ip link set veth1 up" } do
    assert(os.execute(cmd), "failed: " .. cmd)
  end
  for _ = 1, 100 do
    local p = assert(io.popen("ip -br link show veth0; ip -br link show veth1"))
    local s = p:read("a")
    p:close()
    local _, up = s:gsub("%sUP%s", "")
    if up == 2 then return end
    os.execute("sleep 0.01")
  end
  error("the veth pair did not come up within a second")
end

--- Removes the veth pair (deleting veth0 takes veth1 with it), if any.
function kernel.remove_veth_pair() os.execute("ip link del veth0 2>/dev/null") end

--- Whether this process can run the interop specs: in a namespace of its
-- own (spec/netns/run sets SYNFIN_NETNS), with a TUN device.
function kernel.available() return os.getenv("SYNFIN_NETNS") == "1" end

--- Raises, saying how to run it (cmd, through spec/netns/run), unless
-- this process is in a namespace of its own.
function kernel.need_namespace(cmd)
  if not kernel.available() then
    error(("this runs in a network namespace of its own: spec/netns/run %s"):format(cmd), 2)
  end
end

return kernel
