-- Claim C5 (README), why TIME_WAIT lasts 2*MSL: examples/lost_last_ack.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("a lost last ACK, ACKed again from TIME_WAIT (claim C5)", function(f)
  local run = f.example("examples/lost_last_ack.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]
  local MSL = 10

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",
      "server>client SA seq=0 ack=1 len=0",
      "client>server A seq=1 ack=1 len=0",
      "client>server FA seq=1 ack=1 len=0",                 -- segment 4
      "server>client A seq=1 ack=2 len=0",                  -- segment 5
      "server>client FA seq=1 ack=2 len=0",                 -- segment 6
      "client>server A seq=2 ack=2 len=0 dropped_egress",   -- segment 7, lost
      "server>client FA seq=1 ack=2 len=0",                 -- segment 6 again, same seq
      "client>server A seq=2 ack=2 len=0",                  -- segment 7 again
    }, example.segments(net))
  end)

  it("takes the client through the active close", function()
    assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" },
      example.states(net, client))
  end)

  it("keeps the server in LAST_ACK until the second ACK", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" },
      example.states(net, server))
    assert.equal(9, example.entered(net, server, "CLOSED").seg)
  end)

  -- the linux profile's RTO: SRTT (10 ms, the path's RTT) + the variance
  -- term floored at 200 ms = 210 ms (a tail loss probe would be due later)
  it("retransmits the FIN after the RTO (210 ms) with the same sequence number", function()
    local fin, again = example.segment(net, 6), example.segment(net, 8)
    assert.equal("FA", again.flags)
    assert.equal(fin.abs_seq, again.abs_seq)
    assert.equal(fin.abs_ack, again.abs_ack)
    assert.equal(210000, again.time_us - fin.time_us)
  end)

  it("ACKs the retransmitted FIN from TIME_WAIT with seq + 1", function()
    local again, ack = example.segment(net, 8), example.segment(net, 9)
    assert.equal(client.index, ack.from)
    assert.equal("A", ack.flags)
    assert.equal(again.seq + 1, ack.ack)
    local tw = example.entered(net, client, "TIME_WAIT")
    local left = example.left(net, client, "TIME_WAIT")
    assert.truthy(tw.time_us < ack.time_us and ack.time_us < left.time_us)
  end)

  it("restarts 2MSL on the retransmitted FIN", function()
    local entered = example.entered(net, client, "TIME_WAIT")
    local left = example.left(net, client, "TIME_WAIT")
    local again = example.segment(net, 8)
    local arrived = math.floor(again.arrival * 1e6 + 0.5)
    assert.equal(example.segment(net, 9).time_us, arrived) -- ACKed the instant it came
    assert.equal("2MSL", left.why)
    assert.equal(2 * MSL * 1000000, left.time_us - arrived)
    assert.equal(2 * MSL * 1000000 + (arrived - entered.time_us), left.time_us - entered.time_us)
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/lost_last_ack.lua").output)
  end)
end)
