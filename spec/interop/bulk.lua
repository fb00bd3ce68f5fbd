-- spec/interop/bulk.lua: a bulk transfer between synfin and the kernel over
-- TUN, one direction, with optional loss and delay hooks on synfin's side;
-- both ends hash what they sent and received (SHA-256). Used by
-- spec/interop/tun_bulk_spec.lua (which asserts) and
-- spec/bench/tun_throughput.lua (which prints the table).
local synfin = require "synfin"
local kernel = require "interop.kernel"

local bulk = {}

local DEFAULT_KERNEL, DEFAULT_SYNFIN = "10.73.0.1", "10.73.0.2"

-- kernel_peer.py's pattern: bytes 0..255 repeated
local function pattern(n)
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  local block = table.concat(t):rep(256) -- 64 KiB
  return block:rep(n // #block) .. block:sub(1, n % #block)
end

local function sha256_sink()
  local out = os.tmpname()
  local pipe = assert(io.popen("sha256sum > " .. out, "w"))
  return {
    write = function(_, data) pipe:write(data) end,
    sum = function()
      pipe:close()
      local f = assert(io.open(out))
      local hex = f:read("l"):match("^(%x+)")
      f:close()
      os.remove(out)
      return hex
    end,
  }
end

--- Runs one transfer. opts: dir ("to_kernel" or "from_kernel"), bytes,
-- loss and delay (the share of segments dropped / delayed by 10 ms, in
-- both directions, by hooks on synfin's host), tlp and sack (synfin's
-- tail_loss_probe and sack settings), port, records and offload (synfin.tun's: nil
-- is its default), kernel and synfin (the device's and synfin's addresses,
-- by default 10.73.0.1 and 10.73.0.2), largest (a hook notes the largest payload synfin's
-- host receives). Returns { seconds, bytes, sent_sha256, received_sha256,
-- retransmits, dropped, delayed, device (net:device_stats() at the end),
-- largest }.
function bulk.run(opts)
  local KERNEL, SYNFIN = opts.kernel or DEFAULT_KERNEL, opts.synfin or DEFAULT_SYNFIN
  local net = synfin.tun { payloads = false, timeout = 120, offload = opts.offload, records = opts.records,
    kernel = KERNEL }
  local host = net:host(SYNFIN, { name = "synfin", rcv_buf = 1 << 20, snd_buf = 1 << 20,
    tail_loss_probe = opts.tlp or nil, sack = opts.sack })
  if os.getenv("SYNFIN_BULK_PCAP") then net:pcap(os.getenv("SYNFIN_BULK_PCAP")) end
  local hooks = {}
  for _, dir in ipairs { "ingress", "egress" } do
    if (opts.loss or 0) > 0 then
      hooks[#hooks + 1] = host:hook(dir, { p = opts.loss }, function() return "drop" end)
    end
    if (opts.delay or 0) > 0 then
      hooks[#hooks + 1] = host:hook(dir, { p = opts.delay }, function() return { delay = 0.01 } end)
    end
  end
  local port = opts.port or 9100
  local result = { bytes = opts.bytes, largest = 0 }
  if opts.largest then
    hooks[#hooks + 1] = host:hook("ingress", {}, function(seg)
      if seg.len > result.largest then result.largest = seg.len end
    end)
  end
  local proc
  local ok, err = pcall(function()
    net:run(function()
      local c
      if opts.dir == "to_kernel" then
        proc = kernel.start { "server", KERNEL, tostring(port), "--alarm", "900" }
        proc:wait_for(net, "listening", 10)
        local data = pattern(opts.bytes)
        local sink = sha256_sink()
        sink:write(data)
        result.sent_sha256 = sink.sum()
        local t0 = net:now()
        c = host:connect(KERNEL, port)
        c:wait("ESTABLISHED", 10)
        c:send_all(data, 900)
        data = nil -- luacheck: ignore 311 (lets the collector have the bytes during the transfer)
        c:close()
        c:wait("TIME_WAIT", 900)
        result.seconds = net:now() - t0
        local r = proc:result(net, 120)[1]
        result.received_sha256, result.received, result.error = r.received_sha256, r.received, r.error
      else
        local l = host:listen(port)
        proc = kernel.start { "client", SYNFIN, tostring(port), tostring(opts.bytes), "--shut-wr",
          "--alarm", "900" }
        c = l:accept(10)
        local t0 = net:now()
        local sink, got = sha256_sink(), 0
        while true do
          local data = c:recv(nil, 60)
          if not data then break end
          got = got + #data
          sink:write(data)
        end
        result.seconds = net:now() - t0
        result.received, result.received_sha256 = got, sink.sum()
        c:close()
        c:wait("CLOSED", 10)
        local r = proc:result(net, 120)[1]
        result.sent_sha256, result.error = r.sent_sha256, r.error
      end
      local info = c:info()
      result.retransmits = info.retransmits
    end)
  end)
  result.dropped, result.delayed = 0, 0
  for _, h in ipairs(hooks) do
    local st = h:stats() or {}
    result.dropped = result.dropped + (st.dropped or 0)
    result.delayed = result.delayed + (st.delayed or 0)
  end
  if proc then proc:stop() end
  result.device = net:device_stats()
  net:close()
  if not ok then error(err, 0) end
  return result
end

return bulk
