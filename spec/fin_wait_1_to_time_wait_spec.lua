-- Claim C3 (README), FIN_WAIT_1 straight to TIME_WAIT on a FIN that ACKs our FIN:
-- examples/fin_wait_1_to_time_wait.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("FIN_WAIT_1 to TIME_WAIT on FIN+ACK (claim C3)", function(f)
  local run = f.example("examples/fin_wait_1_to_time_wait.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",                  -- segment 1
      "server>client SA seq=0 ack=1 len=0",                 -- segment 2
      "client>server A seq=1 ack=1 len=0",                  -- segment 3
      "client>server FA seq=1 ack=1 len=0",                 -- segment 4: FIN
      "server>client A seq=1 ack=2 len=0 dropped_egress",   -- segment 5, lost
      "server>client FA seq=1 ack=2 len=0",                 -- segment 6: FIN + ACK of segment 4
      "client>server A seq=2 ack=2 len=0",                  -- segment 7
    }, example.segments(net))
  end)

  it("takes the client from FIN_WAIT_1 to TIME_WAIT without FIN_WAIT_2", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT", "CLOSED" },
      example.states(net, client))
    local tw = example.entered(net, client, "TIME_WAIT")
    assert.equal("FIN_WAIT_1", tw.old)
    assert.equal(6, tw.seg)
  end)

  it("takes the server through the passive close", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" },
      example.states(net, server))
    assert.equal(7, example.entered(net, server, "CLOSED").seg)
  end)

  it("has the server's FIN carry the ACK of the client's FIN", function()
    local fin, fin2, ack = example.segment(net, 4), example.segment(net, 6), example.segment(net, 7)
    assert.equal("FA", fin2.flags)
    assert.equal(fin.seq + 1, fin2.ack)
    assert.equal(fin2.seq + 1, ack.ack)
    assert.equal(fin.seq + 1, ack.seq)
  end)

  it("keeps TIME_WAIT for 2*MSL of virtual time", function()
    local entered = example.entered(net, client, "TIME_WAIT")
    local left = example.left(net, client, "TIME_WAIT")
    assert.equal(60 * 1000000, left.time_us - entered.time_us)
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/fin_wait_1_to_time_wait.lua").output)
  end)
end)
