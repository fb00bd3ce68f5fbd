-- Claims C2 and C3 (README): CLOSE_WAIT and FIN_WAIT_2 as a half-closed connection:
-- examples/half_close.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("a half-closed connection (claims C2, C3)", function(f)
  local run = f.example("examples/half_close.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server PA seq=1 ack=1 len=7",    -- the request
      "server>client A seq=1 ack=8 len=0",
      "client>server FA seq=8 ack=1 len=0",    -- segment 4: FIN
      "server>client A seq=1 ack=9 len=0",     -- segment 5: ACK of FIN
      "server>client PA seq=1 ack=9 len=9",    -- data in CLOSE_WAIT
      "client>server A seq=9 ack=10 len=0",    -- ACKed in FIN_WAIT_2
      "server>client PA seq=10 ack=9 len=9",
      "client>server A seq=9 ack=19 len=0",
      "server>client PA seq=19 ack=9 len=11",
      "client>server A seq=9 ack=30 len=0",
      "server>client FA seq=30 ack=9 len=0",   -- segment 6: FIN
      "client>server A seq=9 ack=31 len=0",    -- segment 7: ACK of FIN
    }, example.segments(net))
  end)

  it("takes the client through FIN_WAIT_2", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" },
      example.states(net, client))
  end)

  it("takes the server through CLOSE_WAIT", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" },
      example.states(net, server))
  end)

  it("has the server send data in CLOSE_WAIT, ACKed by the client in FIN_WAIT_2", function()
    local fw2 = example.entered(net, client, "FIN_WAIT_2")
    local tw = example.entered(net, client, "TIME_WAIT")
    local cw = example.entered(net, server, "CLOSE_WAIT")
    local la = example.entered(net, server, "LAST_ACK")
    local data, acks = 0, 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.len > 0 and r.from == server.index then
        data = data + 1
        assert.truthy(r.time_us > cw.time_us and r.time_us < la.time_us, "data #" .. r.n .. " in CLOSE_WAIT")
        assert.truthy(r.time_us > fw2.time_us and r.time_us < tw.time_us, "data #" .. r.n .. " into FIN_WAIT_2")
        local ack = example.segment(net, r.n + 1)
        assert.equal(client.index, ack.from)
        assert.equal(r.seq + r.len, ack.ack)
        assert.truthy(ack.time_us > fw2.time_us and ack.time_us < tw.time_us, "ACK #" .. ack.n .. " in FIN_WAIT_2")
        acks = acks + 1
      end
    end
    assert.equal(3, data)
    assert.equal(3, acks)
    -- the client's direction stays closed: its sequence number stays past its FIN
    assert.equal(example.segment(net, 6).seq + 1, example.segment(net, 15).seq)
  end)

  it("stays half-closed for 1.5 s", function()
    local fw2 = example.entered(net, client, "FIN_WAIT_2")
    local left = example.left(net, client, "FIN_WAIT_2")
    assert.equal(1520000, left.time_us - fw2.time_us)
  end)

  it("ACKs each FIN with its sequence number + 1 and keeps TIME_WAIT 2*MSL", function()
    assert.equal(example.segment(net, 6).seq + 1, example.segment(net, 7).ack)
    assert.equal(example.segment(net, 14).seq + 1, example.segment(net, 15).ack)
    local entered, left = example.entered(net, client, "TIME_WAIT"), example.left(net, client, "TIME_WAIT")
    assert.equal(60 * 1000000, left.time_us - entered.time_us)
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/half_close.lua").output)
  end)
end)
