--- synfin.trace: the pictures of a run: the ladder (net:trace, a Trace:
-- text, lines, SVG; the tail that failure messages end with), the state
-- diagram (net:states_dot) and the pcapng recording (net:pcap).
-- @module synfin
local ladder = require "synfin.ladder"
local types = require "synfin.types"
local util = require "synfin.util"
local raise, argerror = util.raise, util.argerror
local synfin, Net, Trace = types.synfin, types.Net, types.Trace

--- The net (continued).
-- @type Net

--- The last lines of the ladder, for failure messages.
-- @local
function Net:_tail(n)
  local lines = ladder.lines(self, self:records())
  local first = math.max(3, #lines - (n or 12) + 1)
  local out = { lines[1] }
  if first > 3 then out[#out + 1] = "       ..." end
  for i = first, #lines do out[#out + 1] = lines[i] end
  return table.concat(out, "\n")
end
--- The ladder diagram of the run so far: print(net:trace()) shows it.
-- Each segment's line has its options as tcpdump prints them
-- (`<mss 1460,sackOK,TS val 1 ecr 0,wscale 7>`) and its window with the
-- scale its sender announced (`win=502<<7`). opts: notes = false hides the
-- protocol's explanations; ts = false leaves the timestamp option out.
-- @tparam[opt] table opts notes, ts
-- @treturn Trace
function Net:trace(opts)
  return setmetatable({ net = self, opts = opts or {} }, Trace)
end

--- The ladder of a net's run, from net:trace(). tostring(trace) and
-- print(trace) give its text, and trace .. "text" concatenates it; it is
-- drawn from the records when asked, so it shows the run up to then.
-- @type Trace

--- The ladder as text.
-- @treturn string
function Trace:text() return ladder.text(self.net, self:_records(), self.opts) end
--- The ladder as a list of lines of text.
-- @treturn {string,...}
function Trace:lines() return ladder.lines(self.net, self:_records(), self.opts) end

-- What the ladder draws: the net's records, or what a trace made by
-- synfin.trace_of draws (synfin.kernel's: the records with the calls).
function Trace:_records()
  if self.records then return self.records() end
  return self.net:records()
end

--- A trace of net drawn from the records that records() returns, with
-- net:trace's methods: for modules that draw more than the net's records.
-- @local
function synfin.trace_of(net, records, opts)
  return setmetatable({ net = net, records = records, opts = opts or {} }, Trace)
end

--- The ladder as an SVG picture (lua/synfin/ladder.lua): written to path,
-- returning true, or nil, message when the file cannot be written. Without a
-- path, returns the SVG text.
-- @tparam[opt] string path the file to write
-- @return true; or nil, message; or, without a path, the SVG text
function Trace:svg(path)
  local svg = ladder.svg(self.net, self:_records(), self.opts)
  if path == nil then return svg end
  if type(path) ~= "string" then argerror(1, "svg", "a file name expected") end
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(svg)
  local cok, cerr = f:close()
  if not ok or not cok then return nil, werr or cerr end
  return true
end
Trace.__tostring = Trace.text
Trace.__concat = function(a, b)
  return (type(a) == "table" and a:text() or a) .. (type(b) == "table" and b:text() or b)
end

--- The net (continued).
-- @type Net

--- The eleven-state machine as Graphviz DOT, the transitions this run took
-- drawn bold with their counts (lua/synfin/states.lua).
-- @tparam[opt] table opts title
-- @treturn string
function Net:states_dot(opts) return require("synfin.states").dot(self:records(), opts) end

--- Records every packet of the net to a pcapng file, for tcpdump, tshark
-- and Wireshark, from now until net:pcap(false) or net:close() (or the
-- garbage collector). On the sim and on TUN alike, each packet is written
-- once, when its fate is settled, with its bytes as they were on the wire
-- (also with `payloads = false`), the time it entered the wire (the net's
-- clock, from 0), and a comment saying what synfin knows: its number in the
-- trace, its sender and receiver, the hooks' verdicts and its fate, as
-- "synfin #4 192.0.2.1 > 192.0.2.2: dropped by egress hook 1" (or:
-- delivered; lost by the link; dropped by ingress hook N; delayed 1 s by hook
-- N, delivered; replaced by hook N, then "replacement by hook N, delivered";
-- duplicated by hook N / copy by hook N; answer by hook N; injected by the
-- script; no host; in flight at the end). The file is in the order of fates,
-- so its timestamps may go back; `tshark -r F -T fields -e frame.comment`
-- prints the comments. Recording again switches files.
-- @tparam string|boolean path the file (created or truncated), or false to stop
-- @treturn Net the net
-- @raise when the file cannot be opened or written ("net:pcap: cannot open x:
-- No such file or directory")
-- @usage net:pcap "run.pcapng"   -- then: tshark -r run.pcapng
function Net:pcap(path)
  if path ~= false and type(path) ~= "string" then
    argerror(1, "pcap", "a file name or false expected, got " .. type(path))
  end
  local ok, err = self.sim:pcap(path)
  if not ok then raise("net:pcap: " .. err) end
  return self
end


return Trace
