-- Claim C3 (README), CLOSING in a simultaneous close: examples/simultaneous_close.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("a simultaneous close goes through CLOSING (claim C3)", function(f)
  local run = f.example("examples/simultaneous_close.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server FA seq=1 ack=1 len=0",   -- the client's FIN
      "server>client FA seq=1 ack=1 len=0",   -- the server's FIN, crossing it: it does not ACK it
      "client>server A seq=2 ack=2 len=0",    -- the client ACKs the server's FIN
      "server>client A seq=2 ack=2 len=0",    -- the server ACKs the client's FIN, at the same instant
    }, example.segments(net))
  end)

  local both = { "FIN_WAIT_1", "CLOSING", "TIME_WAIT", "CLOSED" }

  it("takes the client FIN_WAIT_1 -> CLOSING -> TIME_WAIT -> CLOSED", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", table.unpack(both) }, example.states(net, client))
  end)

  it("takes the server FIN_WAIT_1 -> CLOSING -> TIME_WAIT -> CLOSED", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED", table.unpack(both) }, example.states(net, server))
  end)

  it("has both sides close at the same instant, the FINs crossing", function()
    local c1 = example.entered(net, client, "FIN_WAIT_1")
    local s1 = example.entered(net, server, "FIN_WAIT_1")
    assert.equal(c1.time_us, s1.time_us)
    local cfin, sfin = example.segment(net, 4), example.segment(net, 5)
    assert.equal(cfin.time_us, sfin.time_us)
    assert.equal(1, sfin.ack)   -- the server's FIN does not ACK the client's FIN
    assert.equal(1, cfin.ack)
  end)

  it("enters CLOSING on the peer's FIN and TIME_WAIT on the ACK of its own", function()
    assert.equal(4, example.entered(net, server, "CLOSING").seg)
    assert.equal(5, example.entered(net, client, "CLOSING").seg)
    assert.equal(7, example.entered(net, client, "TIME_WAIT").seg)
    assert.equal(6, example.entered(net, server, "TIME_WAIT").seg)
    assert.equal(example.segment(net, 5).seq + 1, example.segment(net, 6).ack)
    assert.equal(example.segment(net, 4).seq + 1, example.segment(net, 7).ack)
  end)

  it("keeps both sides in TIME_WAIT for 2*MSL", function()
    for _, h in ipairs { client, server } do
      local entered, left = example.entered(net, h, "TIME_WAIT"), example.left(net, h, "TIME_WAIT")
      assert.equal(60 * 1000000, left.time_us - entered.time_us)
    end
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/simultaneous_close.lua").output)
  end)
end)
