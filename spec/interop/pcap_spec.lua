-- Recording a real-time net as pcapng (net:pcap) against the Linux kernel:
-- over TUN and over a veth pair through a packet socket (synfin.raw), every
-- segment the net saw, the kernel's and synfin's, is in the file once, with
-- its bytes, the time it entered the wire (as in the trace) and a comment
-- with the hooks' verdicts; tcpdump and tshark read it without a complaint.
-- spec/pcap_spec.lua proves the same on the sim; both read the files with
-- spec/pcap_read.lua. Both on IPv4 and IPv6 (helpers.families: f.tun's and
-- f.veth's addresses). Runs only through spec/netns/run, in a network
-- namespace of its own: the devices, the subnets 10.73.0.0/24 and
-- fd00:73::/64 (TUN), 10.74.0.0/24 and fd00:74::/64 (veth) and every socket
-- live and die there.
local synfin = require "synfin"
local kernel = require "interop.kernel"
local pcap = require "pcap_read"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/pcap_spec.lua"

local scope = kernel.scope(after_each)
local on_cleanup = scope.on_cleanup
after_each(kernel.remove_veth_pair)

-- A temporary directory for the test's file, removed when the test ends.
local function tmpdir()
  local dir = pcap.tmpdir()
  on_cleanup(function() pcap.run("rm -rf " .. dir) end)
  return dir
end

local start = scope.start

local function tun_net(f) return scope.tun_net(f.tun.synfin, { kernel = f.tun.kernel }) end

-- The veth pair of spec/interop/raw_spec.lua (kernel.veth_pair).
local function raw_net(f)
  kernel.veth_pair(f.veth.kernel)
  local net = synfin.raw { interface = "veth1", peer = f.veth.kernel }
  on_cleanup(function() net:close() end)
  return net, net:host(f.veth.synfin, { name = "synfin" })
end

-- A hook function that returns verdict for the first segment with data and
-- lets every other pass. A filter's count would not do: it counts the
-- segments the function was called for, data or not.
local function once_with_data(verdict)
  local done = false
  return function(seg)
    if done or #seg.payload == 0 then return nil end
    done = true
    return verdict
  end
end

-- The file read by tcpdump and tshark and matched with the trace: one
-- packet per segment record, each once, at the trace's time plus the
-- wall-clock time of the net's start (pcap_read
-- asserts those), the checksums good (no hook here corrupts one), and each
-- comment "synfin #N SRC > DST: " followed by special[N], or by "delivered"
-- for every segment not in special. Returns the packets by number.
local function check_file(path, segs, special)
  local packets = pcap.read_pcap(path)
  -- a real-time net's file is stamped in wall-clock time: its time 0 is
  -- when the net was made, a few seconds ago at most
  local epoch
  for _, p in ipairs(packets) do
    if p.n == segs[1].n then epoch = p.time - segs[1].time end
  end
  assert.is_not_nil(epoch, "the first segment is not in the file")
  assert.truthy(math.abs(epoch - os.time()) < 60,
    ("the file's clock starts at %.0f s since 1970, now is %d"):format(epoch, os.time()))
  local by = pcap.by_number(segs, packets, epoch)
  for _, r in ipairs(segs) do
    local p = by[r.n]
    assert.equal(("synfin #%d %s > %s: %s"):format(r.n, r.src, r.dst, special[r.n] or "delivered"),
      p.comment)
    assert.is_true(p.tcp_ok, "TCP checksum of #" .. r.n .. ": " .. p.comment)
    assert.is_true(p.ip_ok, "IP checksum of #" .. r.n .. ": " .. p.comment)
  end
  return by
end

-- The segment sent again after the dropped one: same sender, same
-- sequence number, with data, later in the trace.
local function retransmission(segs, dropped)
  return pcap.first(segs, function(r)
    return r.n > dropped.n and r.src == dropped.src and r.seq == dropped.seq and r.len > 0
  end)
end

-- kernel_peer.py sends bytes(range(256)) over and over: its first bytes.
local PATTERN = "000102030405060708090a0b0c0d0e0f"

-- The trace's faulted segments: the one the drop hook took (fate, from
-- dropped_src), its retransmission (delivered) and the one the delay hook
-- held (from delayed_src, with data).
local function faulted(segs, fate, dropped_src, drop, delayed_src, delay)
  local dropped = pcap.first(segs, function(s) return s.fate == fate end)
  assert.equal(dropped_src, dropped.src)
  assert.equal(drop.id, dropped.hook)
  local again = retransmission(segs, dropped)
  assert.equal("delivered", again.fate)
  local delayed = pcap.first(segs, function(s) return s.delay end)
  assert.equal(delayed_src, delayed.src)
  assert.equal(delay.id, delayed.hook)
  assert.is_true(delayed.len > 0)
  return dropped, again, delayed
end

families.describe("net:pcap against the kernel", function(f)
  local TUN_KERNEL, TUN_SYNFIN = f.tun.kernel, f.tun.synfin
  local RAW_KERNEL, RAW_SYNFIN = f.veth.kernel, f.veth.synfin

  describe("over TUN, net:pcap with a kernel client", function()
    it("writes every segment once with its verdict: the kernel's data dropped on arrival and sent again, synfin's delayed", function()
      local dir = tmpdir()
      local net, server = tun_net(f)
      local path = dir .. "/tun.pcapng"
      assert.equal(net, net:pcap(path))
      local l = server:listen(8090)
      -- the kernel's first data segment never reaches synfin's TCP: the
      -- kernel sends it again (its RTO, or a fast retransmit on our dup ACKs)
      local drop = server:hook("ingress", { dport = 8090 }, once_with_data("drop"))
      -- synfin's first data segment waits 0.1 s before it goes to the kernel
      local delay = server:hook("egress", { sport = 8090 }, once_with_data({ delay = 0.1 }))
      local proc = start { "client", TUN_SYNFIN, "8090", "3000", "--shut-wr" }
      local results
      net:run(function()
        local c = l:accept(10)
        assert.equal(3000, #c:recv(3000, 10))
        c:send(("y"):rep(2000))
        c:wait("CLOSE_WAIT", 10) -- the kernel shut down writing: its FIN came
        c:close()
        c:wait("CLOSED", 10)
        results = proc:result(net)
        -- the last segments' fates settle (one still in flight when the
        -- recording stops is written so: "in flight at the end")
        net:sleep(0.1)
      end)
      assert.equal(net, net:pcap(false))
      local r = results[1]
      assert.is_nil(r.error)
      assert.equal(2000, r.received)
      assert.equal("eof", r["end"])

      local segs = pcap.segments(net)
      local dropped, again, delayed = faulted(segs, "dropped_ingress", TUN_KERNEL, drop, TUN_SYNFIN, delay)
      assert.is_true(math.abs(delayed.delay - 0.1) < 1e-6)

      local by = check_file(path, segs, {
        [dropped.n] = ("dropped by ingress hook %d"):format(drop.id),
        [delayed.n] = ("delayed 0.1 s by hook %d, delivered"):format(delay.id),
      })
      -- the bytes as they came from the kernel, the lost ones and their copy
      assert.equal(PATTERN, by[dropped.n].payload:sub(1, #PATTERN))
      assert.equal(by[dropped.n].payload, by[again.n].payload:sub(1, #by[dropped.n].payload))
      assert.equal(("79"):rep(delayed.len), by[delayed.n].payload) -- "y"
      -- the whole exchange is there: the kernel's SYN first, its FIN, ours
      assert.equal("S", segs[1].flags)
      assert.equal(TUN_KERNEL, segs[1].src)
      for _, src in ipairs { TUN_KERNEL, TUN_SYNFIN } do
        pcap.first(segs, function(s) return s.src == src and s.flags:find("F") ~= nil end)
      end
    end)
  end)

  describe("on a veth pair, net:pcap with a kernel server", function()
    it("writes every segment once with its verdict: synfin's data dropped on the way out and sent again, the kernel's echo delayed", function()
      local dir = tmpdir()
      local net, client = raw_net(f)
      local path = dir .. "/raw.pcapng"
      net:pcap(path)
      local proc = start { "server", RAW_KERNEL, "9010", "--echo" }
      local drop = client:hook("egress", { dport = 9010 }, once_with_data("drop"))
      local delay = client:hook("ingress", { sport = 9010 }, once_with_data({ delay = 0.05 }))
      local results
      net:run(function()
        proc:wait_for(net, "listening", 10)
        local c = client:connect(RAW_KERNEL, 9010)
        c:wait("ESTABLISHED", 10)
        c:send("hello, kernel")
        assert.equal("hello, kernel", c:recv(13, 10)) -- after synfin's retransmission
        c:close()
        c:wait("TIME_WAIT", 10)
        results = proc:result(net)
        -- the last segments' fates settle (one still in flight when the
        -- recording stops is written so: "in flight at the end")
        net:sleep(0.1)
      end)
      net:pcap(false)
      assert.is_nil(results[1].error)
      assert.equal(13, results[1].received)
      assert.equal("eof", results[1]["end"])

      local segs = pcap.segments(net)
      local dropped, again, delayed = faulted(segs, "dropped_egress", RAW_SYNFIN, drop, RAW_KERNEL, delay)
      assert.equal(13, delayed.len)

      local by = check_file(path, segs, {
        [dropped.n] = ("dropped by egress hook %d"):format(drop.id),
        [delayed.n] = ("delayed 0.05 s by hook %d, delivered"):format(delay.id),
      })
      local hello = "68656c6c6f2c206b65726e656c" -- "hello, kernel"
      assert.equal(hello, by[dropped.n].payload)
      assert.equal(hello, by[again.n].payload)
      assert.equal(hello, by[delayed.n].payload)
      assert.equal("S", segs[1].flags)
      assert.equal(RAW_SYNFIN, segs[1].src)
    end)
  end)
end)
