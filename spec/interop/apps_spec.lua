-- Interop with ordinary applications on the Linux kernel's TCP over a TUN
-- device: curl and python's http.client against a synfin HTTP/1.0 server,
-- a synfin client against `python3 -m http.server`, and a simultaneous
-- close with the kernel; on IPv4 and IPv6 alike (helpers.families: f.tun's
-- addresses). Runs only through spec/netns/run, in a network namespace of
-- its own (10.73.0.0/24 or fd00:73::/64 on the TUN device, nothing else).
local kernel = require "interop.kernel"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/apps_spec.lua"

local scope = kernel.scope(after_each)
local on_cleanup = scope.on_cleanup

local at = kernel.endpoint -- "10.73.0.2:8080", "[fd00:73::2]:8080"

local function tun_net(f) return scope.tun_net(f.tun.synfin, { kernel = f.tun.kernel }) end

local spawn = scope.spawn

-- An HTTP request's head, read until its blank line (RFC 9112 §2.1).
local function read_head(c)
  local head = ""
  for _ = 1, 100 do
    local data, err = c:recv(nil, 5)
    assert(data, err)
    head = head .. data
    if head:find("\r\n\r\n", 1, true) then return head end
  end
  error("no end of the request's head in 100 reads: " .. head)
end

-- Everything until the peer's FIN.
local function read_to_end(c)
  local parts = {}
  for _ = 1, 1000 do
    local data = c:recv(nil, 5)
    if not data then return table.concat(parts) end
    parts[#parts + 1] = data
  end
  error("the stream did not end in 1000 reads")
end

local BODY = "hello from synfin\n"

-- A synfin HTTP/1.0 server's one exchange: accept, read the request, send
-- the response with the FIN. No Content-Length: the close ends the body
-- (RFC 9112 §6.3, 8.), so the client reads until our FIN and closes only
-- then, and synfin is always the one that closes first. (With a length,
-- curl may close as soon as the body is in, its FIN crossing ours: a
-- simultaneous close, tested below on purpose.)
local function serve_once(l)
  local c = l:accept(10)
  local request = read_head(c)
  c:close_with("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" .. BODY)
  return c, request
end

-- synfin closed first (active close, RFC 9293 §3.6): it ends in TIME_WAIT,
-- and the kernel's socket, which closed second, is gone once our last ACK
-- reached it.
local function assert_active_close(net, server, c)
  c:wait("TIME_WAIT", 10)
  local me = at(c:info().laddr, c:info().lport)
  local peer = at(c:info().raddr, c:info().rport)
  net:sleep(0.05)
  assert.is_nil(kernel.state_of(peer, me), "the kernel's socket is still there:\n" .. kernel.ss_text())
  local st = kernel.states(net, server)
  assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1" }, { st[1], st[2], st[3] })
  assert.equal("TIME_WAIT", st[#st])
end

families.describe("applications", function(f)
  local KERNEL, SYNFIN = f.tun.kernel, f.tun.synfin

  describe("over TUN, a synfin HTTP/1.0 server", function()
    it("answers curl: the request line reaches synfin, the body reaches curl, synfin closes first", function()
      local net, server = tun_net(f)
      local l = server:listen(8080)
      local curl = spawn { "curl", "--max-time", "5", "-sS", "http://" .. at(SYNFIN, 8080) .. "/" }
      local code, out, request
      net:run(function()
        local c
        c, request = serve_once(l)
        code, out = curl:wait_exit(net, 10)
        assert_active_close(net, server, c)
      end)
      assert.truthy(request:find("^GET / HTTP/1%.1\r\n"), request)
      assert.truthy(request:find("\r\nHost: " .. at(SYNFIN, 8080) .. "\r\n", 1, true), request)
      assert.truthy(request:find("\r\nUser%-Agent: curl/"), request)
      assert.equal(0, code, out)
      assert.equal(BODY, out)
    end)

    it("answers python's http.client the same way", function()
      local net, server = tun_net(f)
      local l = server:listen(8080)
      local py = spawn { "python3", kernel.PEER, "http-get", SYNFIN, "8080", "--path", "/from-python" }
      local request, r
      net:run(function()
        local c
        c, request = serve_once(l)
        r = py:result(net, 10)[1]
        assert_active_close(net, server, c)
      end)
      assert.truthy(request:find("^GET /from%-python HTTP/1%.1\r\n"), request)
      assert.is_nil(r.error)
      assert.equal(200, r.status)
      assert.equal(10, r.version) -- it read our HTTP/1.0
      assert.equal(BODY, r.body)
    end)
  end)

  describe("over TUN, a synfin client", function()
    it("GETs a file from python3 -m http.server, which closes first", function()
      local net, client = tun_net(f)
      -- a folder of our own with a known file: every byte value, several segments
      local p = assert(io.popen("mktemp -d"))
      local dir = p:read("l")
      p:close()
      on_cleanup(function() os.remove(dir .. "/data.bin"); os.remove(dir) end)
      local bytes = {}
      for i = 0, 4999 do bytes[#bytes + 1] = string.char((i * 7) % 256) end
      local content = table.concat(bytes)
      local file = assert(io.open(dir .. "/data.bin", "wb"))
      file:write(content)
      file:close()
      -- the TUN device exists (tun_net): its address can be bound; -u: its
      -- log (stderr) reaches the file as it goes
      local server = spawn({ "python3", "-u", "-m", "http.server", "8000", "--bind", KERNEL }, { cwd = dir })
      local response, c
      net:run(function()
        kernel.wait_listening(net, at(KERNEL, 8000), 10)
        c = client:connect(KERNEL, 8000)
        c:wait("ESTABLISHED", 10)
        c:send("GET /data.bin HTTP/1.0\r\nHost: " .. at(KERNEL, 8000) .. "\r\n\r\n")
        response = read_to_end(c) -- http.server closes after its HTTP/1.0 response
        assert.equal("CLOSE_WAIT", c:state())
        c:close()
        c:wait("CLOSED", 10) -- LAST_ACK, then the kernel's ACK
        net:sleep(0.05)
        -- the kernel closed first: its socket waits in TIME-WAIT (2*MSL, 60 s on Linux)
        assert.equal("TIME-WAIT", kernel.state_of(at(KERNEL, 8000), at(SYNFIN, c:info().lport)))
      end)
      local head, body = response:match("^(.-\r\n\r\n)(.*)$")
      assert.truthy(head and head:find("^HTTP/1%.0 200 OK\r\n"), response:sub(1, 200))
      assert.truthy(head:find("\r\nContent%-Length: 5000\r\n"), head)
      assert.equal(#content, #body)
      assert.equal(content, body)
      assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, kernel.states(net, client))
      -- its log names our request
      assert.truthy(server:output():find('"GET /data.bin HTTP/1.0" 200', 1, true), server:output())
    end)
  end)

  describe("over TUN, a simultaneous close with the kernel (claim C3: CLOSING)", function()
    it("both send FIN before seeing the other's: both go CLOSING, then TIME_WAIT", function()
      -- RFC 9293 §3.6, case 3 (Figure 13). The kernel closes first, and its
      -- FIN is held for a while in synfin's ingress (as if the link were
      -- slow one way). Meanwhile synfin closes: its FIN reaches a kernel in
      -- FIN-WAIT-1 whose FIN is not acknowledged, so the kernel goes to
      -- CLOSING and ACKs it. Held in the same queue, that ACK reaches synfin
      -- only after the kernel's FIN, which finds synfin in FIN_WAIT_1 with its
      -- FIN unacknowledged: CLOSING too. Each side's ACK then takes it to
      -- TIME_WAIT. The hold (0.15 s) stays under the kernel's minimum RTO
      -- (200 ms) so that it does not resend its FIN meanwhile.
      local net, client = tun_net(f)
      local proc = kernel.start { "server", KERNEL, "9100", "--close-first" }
      on_cleanup(function() proc:stop() end)
      local HOLD = 0.15
      local holding = false
      client:hook("ingress", {}, function(seg)
        if seg.flags:find("F", 1, true) then holding = true end
        if holding then return { delay = HOLD } end
      end)
      local kernel_states = {}
      local c
      net:run(function()
        proc:wait_for(net, "listening", 10)
        c = client:connect(KERNEL, 9100)
        c:wait("ESTABLISHED", 10)
        local me, them = at(SYNFIN, c:info().lport), at(KERNEL, 9100)
        net:expect({ from = net.kernel, flags = "F" }, 5) -- on the wire, held before synfin
        assert.equal("ESTABLISHED", c:state())              -- synfin has not seen it
        kernel_states[#kernel_states + 1] = kernel.state_of(them, me)
        c:close()
        net:expect({ from = client, flags = "F" }, 1)
        net:expect({ from = net.kernel, flags = "=A" }, 1) -- the kernel ACKs our FIN ...
        net:sleep(0.02)
        kernel_states[#kernel_states + 1] = kernel.state_of(them, me) -- ... from CLOSING
        c:wait("TIME_WAIT", 2)
        net:sleep(0.05)
        kernel_states[#kernel_states + 1] = kernel.state_of(them, me)
        proc:result(net)
      end)
      assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT" }, kernel.states(net, client))
      -- the kernel's side, seen with ss: the mirror image
      assert.same({ "FIN-WAIT-1", "CLOSING", "TIME-WAIT" }, kernel_states)
      -- neither FIN acknowledged the other's: each ACK came alone
      local fins = kernel.segments(net, function(r) return r.flags:find("F") ~= nil end)
      assert.equal(2, #fins)
      local kfin, sfin = fins[1], fins[2]
      assert.equal(KERNEL, kfin.src)
      assert.equal(SYNFIN, sfin.src)
      assert.equal(kfin.seq, sfin.ack) -- our FIN does not cover the kernel's
      local ours = kernel.segments(net, function(r) return r.src == SYNFIN and r.flags == "A" and r.ack == kfin.seq + 1 end)
      assert.equal(1, #ours)
    end)
  end)
end)
