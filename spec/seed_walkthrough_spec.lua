-- Claims C1, C2, C3 and C5 (README), the whole life of one connection: examples/seed_walkthrough.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("the seed walkthrough (claims C1, C2, C3, C5)", function(f)
  local run = f.example("examples/seed_walkthrough.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",     -- segment 1
      "server>client SA seq=0 ack=1 len=0",    -- segment 2
      "client>server A seq=1 ack=1 len=0",     -- segment 3
      "client>server PA seq=1 ack=1 len=18",
      "server>client A seq=1 ack=19 len=0",
      "server>client PA seq=1 ack=19 len=24",
      "client>server A seq=19 ack=25 len=0",
      "client>server FA seq=19 ack=25 len=0",  -- segment 4
      "server>client A seq=25 ack=20 len=0",   -- segment 5: ack = FIN's seq + 1
      "server>client FA seq=25 ack=20 len=0",  -- segment 6
      "client>server A seq=20 ack=26 len=0",   -- segment 7: ack = FIN's seq + 1
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

  it("keeps TIME_WAIT for 2*MSL of virtual time", function()
    local entered, left
    for _, r in ipairs(net:records()) do
      if r.kind == "state" and r.host == client.index and r.new == "TIME_WAIT" then entered = r.time_us end
      if r.kind == "state" and r.host == client.index and r.old == "TIME_WAIT" then left = r.time_us end
    end
    assert.equal(60 * 1000000, left - entered)
  end)

  it("prints the ladder with the seed's segment labels", function()
    for n = 1, 7 do
      assert.truthy(run.output:find("<- segment " .. n, 1, true), "label of segment " .. n)
    end
    assert.truthy(run.output:find("[TIME_WAIT] FIN #10", 1, true))
  end)

  it("gives the same trace twice for the same seed", function()
    local again = f.example("examples/seed_walkthrough.lua")
    assert.equal(run.output, again.output)
  end)
end)
