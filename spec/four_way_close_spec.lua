-- Claim C2 of the README (segments 4-7) and the second half of C4: examples/four_way_close.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("the four-way close (claims C2, C4)", function(f)
  local run = f.example("examples/four_way_close.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",    -- segment 1
      "server>client SA seq=0 ack=1 len=0",   -- segment 2
      "client>server A seq=1 ack=1 len=0",    -- segment 3
      "client>server PA seq=1 ack=1 len=7",   -- the request
      "server>client A seq=1 ack=8 len=0",
      "client>server FA seq=8 ack=1 len=0",   -- segment 4: FIN
      "server>client A seq=1 ack=9 len=0",    -- segment 5: ACK of the FIN, alone
      "server>client PA seq=1 ack=9 len=5",   -- the reply, sent after the FIN came
      "client>server A seq=9 ack=6 len=0",
      "server>client FA seq=6 ack=9 len=0",   -- segment 6: FIN
      "client>server A seq=9 ack=7 len=0",    -- segment 7: ACK of the FIN
    }, example.segments(net))
  end)

  it("takes the client through the active close", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" },
      example.states(net, client))
  end)

  it("takes the server through the passive close", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" },
      example.states(net, server))
  end)

  it("ACKs each FIN with its sequence number + 1", function()
    local fin, ack5 = example.segment(net, 6), example.segment(net, 7)
    local fin2, ack7 = example.segment(net, 10), example.segment(net, 11)
    assert.equal("FA", fin.flags)
    assert.equal(fin.seq + 1, ack5.ack)
    assert.equal("FA", fin2.flags)
    assert.equal(fin2.seq + 1, ack7.ack)
  end)

  it("sends the ACK of the FIN and the server's FIN as two segments, data between them (C4)", function()
    local ack5, data, fin2 = example.segment(net, 7), example.segment(net, 8), example.segment(net, 10)
    assert.equal("A", ack5.flags)
    assert.equal("PA", data.flags)
    assert.equal(ack5.seq, data.seq)              -- the data follows the ACK of the FIN
    assert.equal(data.seq + data.len, fin2.seq)   -- and the FIN follows the data
    assert.equal(6, example.entered(net, server, "CLOSE_WAIT").seg)  -- on the client's FIN
    -- the server sent data in CLOSE_WAIT: it entered CLOSE_WAIT before #8 and LAST_ACK after
    assert.truthy(example.entered(net, server, "CLOSE_WAIT").time_us <= data.time_us)
    assert.truthy(example.entered(net, server, "LAST_ACK").time_us >= data.time_us)
  end)

  it("keeps TIME_WAIT for 2*MSL of virtual time", function()
    local entered = example.entered(net, client, "TIME_WAIT")
    local left = example.left(net, client, "TIME_WAIT")
    assert.equal(10, entered.seg)
    assert.equal("2MSL", left.why)
    assert.equal(60 * 1000000, left.time_us - entered.time_us)
  end)

  it("prints the ladder with the seed's segment labels", function()
    for n = 4, 7 do
      assert.truthy(run.output:find("<- segment " .. n, 1, true), "label of segment " .. n)
    end
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/four_way_close.lua").output)
  end)
end)
