-- Close behaviours as Lua functions (conn:set_close, listen's close option):
-- the examples in examples/close/, their segments, states and timings, and
-- the errors of a bad policy.
local example = require "helpers.example"
local synfin = require "synfin"

local S = 1000000 -- microseconds in a second

-- The segments on the wire as "from>to FLAGS seq=N ack=N len=N" (a segment
-- without ACK shows no ack: its field is 0 on the wire, meaningless
-- relative to the ISN), with a fate other than delivered appended.
local function wire(net)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then
      local a, b = net.hosts[r.from], net.hosts[r.to]
      local s = ("%s>%s %s seq=%d"):format(a.name or a.addr, b.name or b.addr, r.flags, r.seq)
      if r.flags:find("A", 1, true) then s = s .. (" ack=%d"):format(r.ack) end
      s = s .. (" len=%d"):format(r.len)
      if r.fate ~= "delivered" then s = s .. " " .. r.fate end
      list[#list + 1] = s
    end
  end
  return list
end

-- The state-change records of one connection of host (the one with the
-- client's port: its local port on a client, its peer's on a server), or of
-- all its connections.
local function changes(net, host, port)
  local list = {}
  for _, r in ipairs(example.state_records(net, host)) do
    if not port or r.rport == port or r.lport == port then list[#list + 1] = r end
  end
  return list
end

local function states(net, host, port)
  local list = {}
  for _, r in ipairs(changes(net, host, port)) do list[#list + 1] = r.new end
  return list
end

-- The first state record of a connection entering (or leaving) state.
local function entered(net, host, state, port)
  for _, r in ipairs(changes(net, host, port)) do
    if r.new == state then return r end
  end
end
local function left(net, host, state, port)
  for _, r in ipairs(changes(net, host, port)) do
    if r.old == state then return r end
  end
end

-- The note record (a close policy's log in the ladder) whose text starts with prefix.
local function note(net, prefix)
  for _, r in ipairs(net:records()) do
    if r.kind == "note" and r.text:sub(1, #prefix) == prefix then return r end
  end
end

local function run(name) return example.run("examples/close/" .. name .. ".lua") end

describe("close policies: examples/close/fin.lua, a policy that logs and returns \"fin\"", function()
  local r = run("fin")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("closes with the RFC's four-way close", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=7",   -- the request
      "server>client A seq=1 ack=8 len=0",
      "server>client PA seq=1 ack=8 len=5",   -- the reply
      "client>server A seq=8 ack=6 len=0",
      "server>client FA seq=6 ack=8 len=0",   -- the policy said "fin"
      -- the client's ACK of that FIN rides on its own FIN: the linux profile
      -- delays the ACK of a FIN (tcp_fin's interactive mode), the close comes first
      "client>server FA seq=8 ack=7 len=0",
      "server>client A seq=7 ack=9 len=0",
    }, wire(net))
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, states(net, client))
    -- the client's FIN+ACK takes the server from FIN_WAIT_1 to TIME_WAIT at once
    assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT", "CLOSED" }, states(net, server))
  end)

  it("calls the policy at the close, which the FIN follows at once", function()
    assert.equal("policy: 192.0.2.2:80 (with 192.0.2.1:49152) closes (close) at t=0.025 s in ESTABLISHED: FIN",
      r.output:match("^[^\n]*"))
    local logged, fin = note(net, "close policy: fin"), example.segment(net, 8)
    assert.equal(25000, logged.time_us)
    assert.equal(25000, fin.time_us)
    assert.equal("close", entered(net, server, "FIN_WAIT_1").why)
    assert.equal(25000, entered(net, server, "FIN_WAIT_1").time_us)
  end)

  it("keeps the server's TIME_WAIT 2*MSL (60 s)", function()
    local tw, closed = entered(net, server, "TIME_WAIT"), left(net, server, "TIME_WAIT")
    assert.equal(9, tw.seg)
    assert.equal("2MSL", closed.why)
    assert.equal(60 * S, closed.time_us - tw.time_us)
  end)

  it("prints its ladder", function()
    assert.truthy(r.output:find("(close policy: fin)", 1, true))
    assert.truthy(r.output:find("[TIME_WAIT] FIN+ACK of our FIN #9", 1, true))
  end)
end)

describe("close policies: examples/close/rst.lua, \"rst\" (a load balancer's reset)", function()
  local r = run("rst")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("sends one RST instead of a FIN", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=7",
      "server>client A seq=1 ack=8 len=0",
      "server>client PA seq=1 ack=8 len=5",
      "client>server A seq=8 ack=6 len=0",
      "server>client RA seq=6 ack=8 len=0",          -- SND.NXT: the client accepts it
    }, wire(net))
    local rst = example.segment(net, 8)            -- Linux's RST|ACK: the ACK and window as any segment
    assert.equal(8, rst.ack)
    assert.is_true(rst.win > 0)
  end)

  it("closes both sides at once, nobody in FIN_WAIT or TIME_WAIT", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSED" }, states(net, client))
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSED" }, states(net, server))
    assert.equal("abort", entered(net, server, "CLOSED").why)
    assert.equal(8, entered(net, client, "CLOSED").seg)
    assert.equal("RST", entered(net, client, "CLOSED").why)
  end)

  it("resets at the close call, after the second of idleness", function()
    local logged, rst = note(net, "close policy: rst"), example.segment(net, 8)
    assert.equal(1025000, logged.time_us)
    assert.equal(1025000, rst.time_us)
    assert.equal(1025000, entered(net, server, "CLOSED").time_us)
    assert.equal(1030000, entered(net, client, "CLOSED").time_us) -- one latency later
    assert.truthy(r.output:find("client: recv after the RST -> nil, connection reset", 1, true))
  end)
end)

describe("close policies: examples/close/linger.lua, { linger = 2 }", function()
  local r = run("linger")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("sends the FIN, retransmits it unacknowledged, then a RST", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=7",
      "server>client A seq=1 ack=8 len=0",
      "server>client PA seq=1 ack=8 len=5",           -- the reply
      "server>client FA seq=6 ack=8 len=0",           -- the FIN
      "client>server A seq=8 ack=7 len=0 dropped_egress",
      "server>client FPA seq=1 ack=8 len=5",          -- the tail loss probe: the reply and the FIN again
      "client>server A seq=8 ack=7 len=0 dropped_egress",
      "server>client FPA seq=1 ack=8 len=5",          -- RTO
      "client>server A seq=8 ack=7 len=0 dropped_egress",
      "server>client FPA seq=1 ack=8 len=5",          -- RTO, backed off
      "client>server A seq=8 ack=7 len=0 dropped_egress",
      "server>client FPA seq=1 ack=8 len=5",          -- RTO, backed off again
      "client>server A seq=8 ack=7 len=0 dropped_egress",
      "server>client RA seq=7 ack=8 len=0",           -- the linger deadline
    }, wire(net))
  end)

  it("takes the server from FIN_WAIT_1 to CLOSED by abort, the client from CLOSE_WAIT by the RST", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "CLOSED" }, states(net, client))
    assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "CLOSED" }, states(net, server))
    assert.equal("abort", left(net, server, "FIN_WAIT_1").why)
    assert.equal(17, left(net, client, "CLOSE_WAIT").seg)
  end)

  it("sends the RST exactly linger = 2 s after the close", function()
    local closed_at = entered(net, server, "FIN_WAIT_1").time_us
    assert.equal(20000, closed_at)
    assert.equal(20000, note(net, "close policy: linger 2 s").time_us)
    -- the linux profile's RTO: SRTT (10 ms, the path's RTT) + the variance
    -- term floored at 200 ms = 210 ms; the tail loss probe, due later
    -- (2*SRTT + 200 ms for one segment), goes at the RTO's time in its place
    assert.equal(closed_at + 210000, example.segment(net, 9).time_us)
    -- then the RTO, re-armed from the probe: 210 ms, 420 ms, 840 ms
    assert.equal(closed_at + 420000, example.segment(net, 11).time_us)
    assert.equal(closed_at + 840000, example.segment(net, 13).time_us)
    assert.equal(closed_at + 1680000, example.segment(net, 15).time_us)
    -- the next, 1.68 s later, would be past the deadline
    assert.equal(closed_at + 2 * S, example.segment(net, 17).time_us)
    assert.equal(closed_at + 2 * S, entered(net, server, "CLOSED").time_us)
    assert.truthy(r.output:find("the client's ACKs dropped: 5", 1, true))
  end)
end)

describe("close policies: examples/close/fin_with.lua, { fin_with = data } (HTTP/1.0)", function()
  local r = run("fin_with")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]
  local response = "HTTP/1.0 200 OK\r\n\r\nhello"

  it("sends the response and the FIN in one segment", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=18",   -- GET / HTTP/1.0
      "server>client A seq=1 ack=19 len=0",
      "server>client FPA seq=1 ack=19 len=24", -- the response + FIN
      "client>server A seq=19 ack=26 len=0",   -- 1 + 24 + 1 (the FIN)
      "client>server FA seq=19 ack=26 len=0",
      "server>client A seq=26 ack=20 len=0",
    }, wire(net))
    assert.equal(response, example.segment(net, 6).payload)
  end)

  it("goes through the usual close states", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, states(net, client))
    assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" },
      states(net, server))
    assert.equal(6, entered(net, client, "CLOSE_WAIT").seg)
  end)

  it("sends the segment at the close call", function()
    assert.equal(20000, note(net, "close policy: fin_with").time_us)
    assert.equal(20000, entered(net, server, "FIN_WAIT_1").time_us)
    assert.equal(20000, example.segment(net, 6).time_us)
  end)
end)

describe("close policies: examples/close/delay_fin.lua, { delay_fin = 0.5 }", function()
  local r = run("delay_fin")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts the same segments on the wire as a plain close, the FIN later", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=7",
      "server>client A seq=1 ack=8 len=0",
      "server>client PA seq=1 ack=8 len=5",
      "client>server A seq=8 ack=6 len=0",
      "server>client FA seq=6 ack=8 len=0",    -- 0.5 s after the close
      "client>server FA seq=8 ack=7 len=0",    -- its ACK on the client's FIN (delayed ACK of a FIN)
      "server>client A seq=7 ack=9 len=0",
    }, wire(net))
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, states(net, client))
    -- the client's FIN+ACK takes the server from FIN_WAIT_1 to TIME_WAIT at once
    assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT", "CLOSED" }, states(net, server))
  end)

  it("sends the FIN 0.5 s after the close call; the server stays ESTABLISHED until then", function()
    local closed_at = note(net, "close policy: the FIN in 0.5 s").time_us
    assert.equal(20000, closed_at)
    assert.equal(closed_at + S / 2, example.segment(net, 8).time_us)
    assert.equal(closed_at + S / 2, entered(net, server, "FIN_WAIT_1").time_us)
    assert.equal(15000, entered(net, server, "ESTABLISHED").time_us)
    assert.equal(closed_at + S / 2 + 5000, entered(net, client, "CLOSE_WAIT").time_us)
    assert.truthy(r.output:find("close at t=0.020 s, FIN at t=0.520 s", 1, true))
  end)
end)

describe("close policies: examples/close/time_wait.lua, { time_wait = 5 } and { time_wait = 0 }", function()
  local r = run("time_wait")
  local net = r.net
  local a, b, server = net.hosts[1], net.hosts[2], net.hosts[3]

  it("closes both connections with four segments each", function()
    assert.same({
      "a>server S seq=0 len=0",
      "server>a SA seq=0 ack=1 len=0",
      "a>server A seq=1 ack=1 len=0",
      "server>a FA seq=1 ack=1 len=0",         -- time_wait = 5
      "a>server A seq=1 ack=2 len=0",
      "a>server FA seq=1 ack=2 len=0",
      "b>server S seq=0 len=0",
      "server>b SA seq=0 ack=1 len=0",
      "server>a A seq=2 ack=2 len=0",          -- the last ACK: into TIME_WAIT
      "b>server A seq=1 ack=1 len=0",
      "server>b FA seq=1 ack=1 len=0",         -- time_wait = 0
      "b>server A seq=1 ack=2 len=0",
      "b>server FA seq=1 ack=2 len=0",
      "server>b A seq=2 ack=2 len=0",          -- the last ACK, then CLOSED
    }, wire(net))
  end)

  it("takes each server connection through the active close, each client through the passive one", function()
    local active = { "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" }
    assert.same(active, states(net, server, 49152))
    assert.same(active, states(net, server, 49153))
    local passive = { "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }
    assert.same(passive, states(net, a))
    assert.same(passive, states(net, b))
  end)

  it("keeps TIME_WAIT 5 s with time_wait = 5", function()
    local tw, closed = entered(net, server, "TIME_WAIT", 49152), left(net, server, "TIME_WAIT", 49152)
    assert.equal(25000, tw.time_us)
    assert.equal(5 * S, closed.time_us - tw.time_us)
    assert.equal("2MSL", closed.why)
  end)

  it("keeps no TIME_WAIT with time_wait = 0 (against MUST-13)", function()
    local tw, closed = entered(net, server, "TIME_WAIT", 49153), left(net, server, "TIME_WAIT", 49153)
    assert.equal(45000, tw.time_us)
    assert.equal(0, closed.time_us - tw.time_us)
    assert.equal("CLOSED", closed.new)
    -- CLOSED as soon as its last ACK was sent
    assert.equal(tw.time_us, example.segment(net, 14).time_us)
  end)
end)

describe("close policies: examples/close/silent.lua, \"silent\" (a crashed host)", function()
  local r = run("silent")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("sends nothing at the close; the client's next data draws a RST", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=7",
      "server>client A seq=1 ack=8 len=0",
      "client>server PA seq=8 ack=1 len=4",    -- the client talks again
      "server>client R seq=1 len=0",           -- no connection: <SEQ=SEG.ACK><CTL=RST>
    }, wire(net))
  end)

  it("forgets the server's connection at once, the client's only on the RST", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSED" }, states(net, client))
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSED" }, states(net, server))
    local forgot = entered(net, server, "CLOSED")
    assert.equal("forget", forgot.why)
    assert.equal(25000, forgot.time_us)
    assert.equal(25000, note(net, "close policy: silent").time_us)
    local reset = entered(net, client, "CLOSED")
    assert.equal("RST", reset.why)
    assert.equal(7, reset.seg)
    assert.equal(1035000, reset.time_us)
  end)

  it("keeps quiet between the close and the client's data", function()
    for _, rec in ipairs(net:records()) do
      if rec.kind == "seg" and rec.from == server.index then
        assert.is_false(rec.time_us > 25000 and rec.time_us < 1030000, "segment #" .. rec.n)
      end
    end
    assert.equal(1025000, example.segment(net, 6).time_us)
    assert.truthy(r.output:find("client: recv -> nil, connection reset", 1, true))
  end)
end)

describe("close policies: examples/close/on_state.lua, closing from a state callback", function()
  local r = run("on_state")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("sends the server's FIN right after its ACK of the client's FIN", function()
    assert.same({
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server FA seq=1 ack=1 len=0",
      "server>client A seq=1 ack=2 len=0",
      "server>client FA seq=1 ack=2 len=0",    -- from the callback
      "client>server A seq=2 ack=2 len=0",
    }, wire(net))
    assert.equal(example.segment(net, 5).time_us, example.segment(net, 6).time_us)
  end)

  it("goes CLOSE_WAIT -> LAST_ACK at the instant the FIN arrives", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" },
      states(net, client))
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, states(net, server))
    local cw, la = entered(net, server, "CLOSE_WAIT"), entered(net, server, "LAST_ACK")
    assert.equal(4, cw.seg)
    assert.equal(20000, cw.time_us)
    assert.equal(cw.time_us, la.time_us)
    assert.equal("close", la.why)
  end)

  it("calls the callback on every state change after it was set", function()
    assert.same({
      "server: ESTABLISHED -> CLOSE_WAIT at t=0.020 s (FIN)",
      "server: CLOSE_WAIT -> LAST_ACK at t=0.020 s (close)",
      "server: LAST_ACK -> CLOSED at t=0.030 s (ACK of our FIN)",
    }, { r.output:match("^([^\n]*)\n([^\n]*)\n([^\n]*)\n") })
  end)
end)

describe("close policies: examples/close/listener_policy.lua, a listener's policy", function()
  local r = run("listener_policy")
  local net = r.net
  local client, server = net.hosts[1], net.hosts[2]

  it("gives every accepted connection the policy: the last bytes with the FIN", function()
    local one = {
      "client>server S seq=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "server>client FPA seq=1 ack=1 len=4",   -- "bye\n" + FIN
      "client>server A seq=1 ack=6 len=0",
      "client>server FA seq=1 ack=6 len=0",
      "server>client A seq=6 ack=2 len=0",
    }
    local both = {}
    for _ = 1, 2 do
      for _, s in ipairs(one) do both[#both + 1] = s end
    end
    assert.same(both, wire(net))
    assert.equal("bye\n", example.segment(net, 4).payload)
    assert.equal("bye\n", example.segment(net, 11).payload)
  end)

  it("takes both server connections through the active close, 1 s of TIME_WAIT each", function()
    for _, sport in ipairs { 49152, 49153 } do
      assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" },
        states(net, server, sport))
      assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" },
        states(net, client, sport))
      local tw, closed = entered(net, server, "TIME_WAIT", sport), left(net, server, "TIME_WAIT", sport)
      assert.equal(1 * S, closed.time_us - tw.time_us)
    end
    assert.equal(25000, entered(net, server, "TIME_WAIT", 49152).time_us)
    assert.equal(1050000, entered(net, server, "TIME_WAIT", 49153).time_us)
  end)

  it("calls the policy once per connection, with that connection", function()
    assert.same({
      "policy: close #1 of 192.0.2.2:80 (with 192.0.2.1:49152) (close)",
      "policy: close #2 of 192.0.2.2:80 (with 192.0.2.1:49153) (close)",
    }, { r.output:match("^([^\n]*)\n([^\n]*)\n") })
  end)
end)

describe("close policies: errors", function()
  local BAD = 'bad close decision 42: "fin", "rst", "silent" or a table of linger, fin_with, delay_fin, time_wait'

  -- an established connection c (client side) and its peer s, outside net:run
  local function established()
    local net = synfin.sim { seed = 1 }
    local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
    local l = b:listen(80)
    local c = a:connect("192.0.2.2", 80)
    c:wait("ESTABLISHED", 1)
    local s = l:accept(1)
    return net, c, s
  end

  local function segments(net)
    local n = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" then n = n + 1 end
    end
    return n
  end

  it("a decision that is not \"fin\", \"rst\", \"silent\" or a table fails the close call", function()
    local net, c = established()
    local before = segments(net)
    c:set_close(function() return 42 end)
    local ok, err = pcall(c.close, c)
    assert.is_false(ok)
    assert.truthy(err:find(BAD, 1, true), err)
    -- nothing was done: still ESTABLISHED, nothing sent
    net:sleep(1)
    assert.equal("ESTABLISHED", c:state())
    assert.equal(before, segments(net))
  end)

  it("an unknown string decision fails the close call", function()
    local _, c = established()
    c:set_close(function() return "reset" end)
    local ok, err = pcall(c.close, c)
    assert.is_false(ok)
    assert.truthy(err:find('bad close decision reset: "fin", "rst", "silent"', 1, true), err)
  end)

  it("a table with an unknown key fails the close call and names the key", function()
    local net, c = established()
    local before = segments(net)
    c:set_close(function() return { lingr = 1 } end)
    local ok, err = pcall(c.close, c)
    assert.is_false(ok)
    assert.truthy(err:find("bad close decision: unknown key 'lingr'", 1, true), err)
    net:sleep(1)
    assert.equal("ESTABLISHED", c:state())
    assert.equal(before, segments(net))
  end)

  it("a bad decision in a scenario fails net:run with the message", function()
    local net = synfin.sim { seed = 1 }
    local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
    b:listen(80)
    local ok, err = pcall(net.run, net, function()
      local c = a:connect("192.0.2.2", 80)
      c:wait("ESTABLISHED", 1)
      c:set_close(function() return 42 end)
      c:close()
    end)
    assert.is_false(ok)
    assert.truthy(err:find(BAD, 1, true), err)
  end)

  it("set_close with a non-function raises bad argument", function()
    local _, c = established()
    for _, bad in ipairs { "rst", 42, { linger = 1 }, true } do
      local ok, err = pcall(c.set_close, c, bad)
      assert.is_false(ok)
      assert.truthy(err:find("bad argument #1 to 'set_close' (function expected)", 1, true), err)
    end
    local ok, err = pcall(c.set_close, c)
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'set_close' (function expected)", 1, true), err)
  end)

  it("listen with a close that is not a function raises bad argument", function()
    local net = synfin.sim { seed = 1 }
    local b = net:host "192.0.2.2"
    local ok, err = pcall(b.listen, b, 80, { close = "rst" })
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #2 to 'listen' (close must be a function)", 1, true), err)
  end)

  -- Regression: conn:close reached close_as by a tail call, so the error
  -- named the caller of the function that called close, or no line at all.
  it("names the line of the close call in the error", function()
    local _, c = established()
    c:set_close(function() return 42 end)
    local line
    local function closer()
      line = debug.getinfo(1, "l").currentline + 1
      c:close()
    end
    local ok, err = pcall(closer)
    assert.is_false(ok)
    assert.truthy(err:find(debug.getinfo(1, "S").short_src .. ":" .. line .. ": ", 1, true), err)
  end)
end)

describe("close policies: to-be-closed connections", function()
  -- Regression: __close called sf_close directly, bypassing the policy, so
  -- a plain FIN went out whatever the policy said.
  it("close through their policy when they go out of scope", function()
    local net = synfin.sim { seed = 1 }
    local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
    b:listen(80)
    local called = false
    net:run(function()
      do
        local c <close> = a:connect("192.0.2.2", 80)
        c:set_close(function() called = true; return "rst" end)
        c:wait("ESTABLISHED", 1)
      end
      net:sleep(0.1)
    end)
    assert.is_true(called)
    assert.same({ "S", "SA", "A", "RA" }, (function()
      local flags = {}
      for _, r in ipairs(net:records()) do
        if r.kind == "seg" then flags[#flags + 1] = r.flags end
      end
      return flags
    end)())
  end)
end)

describe("close policies: linger when the FIN is acknowledged in time", function()
  it("sends no RST at the deadline", function()
    local net = synfin.sim { seed = 1, latency = 0.005 }
    local a, b = net:host("192.0.2.1", { name = "client" }), net:host("192.0.2.2", { name = "server" })
    local l = b:listen(80)
    net:run(function()
      local c = a:connect("192.0.2.2", 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:set_close(function() return { linger = 1 } end)
      s:close()
      s:wait("FIN_WAIT_2", 1)
      net:expect_nothing({ flags = "R" }, 2)
      assert.equal("FIN_WAIT_2", s:state())
    end)
    assert.same({ "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2" }, states(net, b))
  end)
end)
