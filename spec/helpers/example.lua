--- Runs an example script the way the CLI does, but captures what it prints
-- and the nets it creates, so that a spec can assert its trace.
--
--   local example = require "helpers.example"
--   local run = example.run("examples/handshake.lua" [, seed [, addresses]])
--   run.net, run.nets, run.output
local synfin = require "synfin"

local example = {}

-- The net with its hosts' addresses replaced as `addresses` says ({ [old]
-- = new }): in net:host, net:peer and host:connect, where a scenario names
-- them, so that one scenario runs over IPv4 and IPv6 alike.
local function readdress(net, addresses)
  local function map(a) return addresses[a] or a end
  local function host_with(h)
    local connect = h.connect
    h.connect = function(self, addr, ...) return connect(self, map(addr), ...) end
    return h
  end
  local host, peer = net.host, net.peer
  net.host = function(self, addr, ...) return host_with(host(self, map(addr), ...)) end
  net.peer = function(self, addr, ...) return host_with(peer(self, map(addr), ...)) end
end

--- Runs the example at path with the seed (as the CLI's --seed; optional);
-- addresses ({ [old] = new }, optional) runs it at other addresses
-- (helpers.families: over IPv6).
function example.run(path, seed, addresses)
  local nets, out = {}, {}
  local original, original_seed = synfin.sim, synfin.defaults.seed
  synfin.defaults.seed = seed or original_seed -- as the CLI's --seed
  synfin.sim = function(...)
    local net = original(...)
    if addresses then readdress(net, addresses) end
    nets[#nets + 1] = net
    return net
  end
  local env = setmetatable({
    print = function(...)
      local parts = table.pack(...)
      for i = 1, parts.n do parts[i] = tostring(parts[i]) end
      out[#out + 1] = table.concat(parts, "\t", 1, parts.n)
    end,
  }, { __index = _G })
  local chunk, err = loadfile(path, "t", env)
  if not chunk then
    synfin.sim, synfin.defaults.seed = original, original_seed
    error(err, 0)
  end
  local ok, failure = pcall(chunk)
  synfin.sim, synfin.defaults.seed = original, original_seed
  if not ok then error(failure, 0) end
  return { nets = nets, net = nets[1], output = table.concat(out, "\n") }
end

--- The states a host's connections went through (listeners left out), in
-- order: { "SYN_SENT", "ESTABLISHED", ... }.
function example.states(net, host)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "state" and r.host == host.index and r.rport ~= 0 then list[#list + 1] = r.new end
  end
  return list
end

--- The segments on the wire as short strings "client>server SA seq=0 ack=1 len=0",
-- with host names (or addresses); fates other than delivered are appended.
function example.segments(net)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then
      local a, b = net.hosts[r.from], net.hosts[r.to]
      local s = ("%s>%s %s seq=%d ack=%d len=%d"):format(a and (a.name or a.addr) or r.src,
        b and (b.name or b.addr) or r.dst, r.flags, r.seq, r.ack, r.len)
      if r.fate ~= "delivered" then s = s .. " " .. r.fate end
      list[#list + 1] = s
    end
  end
  return list
end

--- The state-change records of a host's connections (listeners left out), in
-- order: each has old, new, why, seg (the segment number that caused it, if
-- any) and time_us.
function example.state_records(net, host)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "state" and r.host == host.index and r.rport ~= 0 then list[#list + 1] = r end
  end
  return list
end

--- The first state-change record of host (listeners left out) entering state.
function example.entered(net, host, state)
  for _, r in ipairs(example.state_records(net, host)) do
    if r.new == state then return r end
  end
end

--- The first state-change record of host (listeners left out) leaving state.
function example.left(net, host, state)
  for _, r in ipairs(example.state_records(net, host)) do
    if r.old == state then return r end
  end
end

--- The segment record numbered n (#n in the ladder).
function example.segment(net, n)
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.n == n then return r end
  end
end

--- The set of states entered by any connection of the net, listeners
-- included: { LISTEN = true, SYN_SENT = true, ... }.
function example.all_states(net)
  local set = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "state" then set[r.new] = true end
  end
  return set
end

return example
