-- A bulk transfer through a sim bottleneck, with its figures: used by
-- spec/ecn_spec.lua and spec/bench/ecn_bench.lua (the comparison table).
local synfin = require "synfin"

local M = {}

--- Sends `bytes` from 192.0.2.1 to 192.0.2.2 (or addrs.a to addrs.b) through a sim net with
-- `link` (synfin.sim's options: latency, rate, queue, threshold, ...), the
-- sender's settings `sender` (ecn, congestion_control, ...) and the
-- receiver's `receiver`. Returns { seconds (virtual, first byte sent to last
-- byte read), mbps (goodput), lost (segments the link lost), ce (segments
-- that arrived marked CE), retransmits, cwnd, ssthresh (the sender's at the
-- end), intact (every byte arrived, in order) }.
function M.transfer(bytes, link, sender, receiver, addrs)
  addrs = addrs or { a = "192.0.2.1", b = "192.0.2.2" }
  local opts = { payloads = false, seed = 1 }
  for k, v in pairs(link) do opts[k] = v end
  local net = synfin.sim(opts)
  local a = net:host(addrs.a, sender)
  local b = net:host(addrs.b, receiver)
  local l = b:listen(80)
  local out = {}
  net:run(function()
    local c = a:connect(addrs.b, 80)
    c:wait("ESTABLISHED", 5)
    local s = l:accept(5)
    local t0 = net:now()
    local data = ("0123456789abcdef"):rep(bytes // 16 + 1):sub(1, bytes)
    net:spawn(function() c:send_all(data, 600) end)
    local parts, got = {}, 0
    while got < bytes do
      local chunk = assert(s:recv(nil, 600))
      parts[#parts + 1] = chunk
      got = got + #chunk
    end
    out.seconds = net:now() - t0
    out.intact = table.concat(parts) == data
    local info = c:info()
    out.retransmits, out.cwnd, out.ssthresh = info.retransmits, info.cwnd, info.ssthresh
  end)
  out.lost, out.ce = 0, 0
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.from == a.index and r.len > 0 then
      if r.fate == "lost" then out.lost = out.lost + 1 end
      if r.tos & 3 == 3 and r.fate ~= "lost" then out.ce = out.ce + 1 end
    end
  end
  out.mbps = bytes * 8 / out.seconds / 1e6
  return out
end

return M
