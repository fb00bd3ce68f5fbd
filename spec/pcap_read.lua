--- Reading a pcapng file that net:pcap wrote, with tcpdump and tshark
-- (Debian's), and matching its packets with a net's trace. Shared by
-- spec/pcap_spec.lua (the sim) and spec/interop/pcap_spec.lua (TUN and raw,
-- against the kernel).
--
--   local pcap = require "pcap_read"
--   local by = pcap.by_number(pcap.segments(net), pcap.read_pcap(path))
--   assert.equal("synfin #3 192.0.2.1 > 192.0.2.2: delivered", by[3].comment)
--
-- Its checks fail the running test like any assertion: luassert is the
-- module busted's `assert` is (a required module does not see a spec's
-- environment, so it asks for it by name).
local assert = require "luassert"

local M = {}

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs a shell command: its standard output, standard error and exit status.
function M.run(cmd)
  local errfile = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. errfile .. "; echo \"exit=$?\"")
  local out = p:read("a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  local err = M.slurp(errfile)
  os.remove(errfile)
  return out:gsub("exit=%d+%s*$", ""), err, code
end

function M.tmpdir()
  local out = M.run("mktemp -d")
  local dir = out:match("^(/%S+)")
  assert(dir, "mktemp -d failed")
  return dir
end

-- tcpdump and tshark are required: a missing one fails the spec, saying why.
function M.need(tool)
  local _, _, code = M.run("command -v " .. tool .. " >/dev/null")
  assert(code == 0, ("%s is missing: the pcap specs need Debian's tcpdump and tshark "
    .. "(DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump tshark)"):format(tool))
end

-- What the tools print on standard error that is not a complaint: tcpdump
-- names the file it reads, tshark warns that it runs as root.
function M.complaints(stderr)
  local left = {}
  for line in stderr:gmatch("[^\n]+") do
    if not (line:match("^reading from file .*link%-type RAW")
        or line:match('^Running as user "root" and group "root"')) then
      left[#left + 1] = line
    end
  end
  return table.concat(left, "\n")
end

function M.lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

-- tcpdump started as root gives up root for user tcpdump before it reads a
-- file. In spec/netns/run's namespace (unshare -Urn: uid 0 is the only one
-- mapped, setgroups is denied) it cannot, and fails: "Couldn't change to
-- 'tcpdump' uid=102 gid=109: Operation not permitted". There it runs as
-- nobody, in a user namespace of its own that maps nobody to us: not root,
-- it has nothing to give up, and it reads our files as we do.
local TCPDUMP = os.getenv("SYNFIN_NETNS") == "1"
  and "unshare --map-user=65534 --map-group=65534 tcpdump" or "tcpdump"

-- Reads a file with tcpdump and tshark, asserting both succeed without a
-- complaint, and returns its packets as tshark dissects them, in file
-- order: { n = segment number, comment, time, tcp_ok, ip_ok, payload }.
-- ip_ok: IPv4's header checksum is good; an IPv6 packet has none (RFC 8200
-- §8.1), so it is ok when tshark found an IPv6 header.
function M.read_pcap(path)
  M.need("tcpdump")
  M.need("tshark")
  local out, err, code = M.run(TCPDUMP .. " -nn -r " .. path)
  assert.equal(0, code, "tcpdump failed: " .. err)
  assert.equal("", M.complaints(err))
  local dumped = #M.lines(out)

  out, err, code = M.run("tshark -n -r " .. path)
  assert.equal(0, code, "tshark failed: " .. err)
  assert.equal("", M.complaints(err))
  assert.equal(dumped, #M.lines(out))

  -- tshark 4.0 (Debian 12) names a packet's comment frame.comment; the
  -- status of a verified checksum is 1 (good) or 0 (bad)
  out, err, code = M.run("tshark -n -r " .. path .. " -o tcp.check_checksum:TRUE"
    .. " -o ip.check_checksum:TRUE -T fields -E separator=/t -E occurrence=f"
    .. " -e frame.comment -e frame.time_epoch -e tcp.checksum.status -e ip.checksum.status"
    .. " -e tcp.payload -e _ws.malformed -e ipv6.src")
  assert.equal(0, code, "tshark failed: " .. err)
  assert.equal("", M.complaints(err))
  local packets = {}
  for _, line in ipairs(M.lines(out)) do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
    assert.equal("", f[6] or "", "tshark finds a malformed packet: " .. line)
    packets[#packets + 1] = {
      n = tonumber(f[1]:match("^synfin #(%d+) ")),
      comment = f[1],
      time = tonumber(f[2]),
      tcp_ok = f[3] == "1",
      ip_ok = f[4] == "1" or (f[4] == "" and (f[7] or "") ~= ""),
      payload = (f[5] or ""):gsub(":", ""),
    }
  end
  assert.equal(dumped, #packets)
  return packets
end

-- The segment records of a net's trace, in order.
function M.segments(net)
  local segs = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then segs[#segs + 1] = r end
  end
  return segs
end

-- The packets by segment number; each number once, each segment of the
-- trace there, at the time it entered the wire: epoch (the wall-clock time
-- of the net's time 0, seconds; 0, the default, on a sim) plus the trace's.
function M.by_number(segs, packets, epoch)
  epoch = epoch or 0
  assert.equal(#segs, #packets, "one packet per segment of the trace")
  local by = {}
  for _, p in ipairs(packets) do
    assert.is_not_nil(p.n, "a comment without a segment number: " .. p.comment)
    assert.is_nil(by[p.n], "segment #" .. tostring(p.n) .. " written twice")
    by[p.n] = p
  end
  for _, r in ipairs(segs) do
    local p = by[r.n]
    assert.is_not_nil(p, "segment #" .. r.n .. " is missing")
    -- (2 us: a double holds an epoch in seconds to a few tenths of a us)
    assert.is_true(math.abs(p.time - epoch - r.time) < 2e-6,
      ("segment #%d at %.6f s in the file, %.6f s in the trace"):format(r.n, p.time - epoch, r.time))
  end
  return by
end

-- The first segment record that test accepts; none is an error.
function M.first(segs, test)
  for _, r in ipairs(segs) do
    if test(r) then return r end
  end
  error("no such segment in the trace", 2)
end

return M
