-- Claim C1 of the README (segments 1-3) and the first half of C4: examples/handshake.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("the three-way handshake (claims C1, C4)", function(f)
  local run = f.example("examples/handshake.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly three segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",   -- segment 1: SYN
      "server>client SA seq=0 ack=1 len=0",  -- segment 2: SYN+ACK
      "client>server A seq=1 ack=1 len=0",   -- segment 3: ACK
    }, example.segments(net))
  end)

  it("takes the client through SYN_SENT to ESTABLISHED", function()
    assert.same({ "SYN_SENT", "ESTABLISHED" }, example.states(net, client))
  end)

  it("takes the listener's child through SYN_RCVD to ESTABLISHED", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED" }, example.states(net, server))
    local rcvd = example.entered(net, server, "SYN_RCVD")
    assert.equal("LISTEN", rcvd.old)   -- made by the listener
    assert.equal(1, rcvd.seg)          -- on segment 1
    assert.equal(3, example.entered(net, server, "ESTABLISHED").seg) -- on segment 3
    assert.equal(2, example.entered(net, client, "ESTABLISHED").seg) -- on segment 2
  end)

  it("has the server listening before the SYN comes", function()
    local first = net:records()[1]
    assert.equal("state", first.kind)
    assert.equal(server.index, first.host)
    assert.equal("LISTEN", first.new)
  end)

  it("carries the server's ACK and its SYN in one segment (C4)", function()
    local syn, synack, ack = example.segment(net, 1), example.segment(net, 2), example.segment(net, 3)
    assert.equal("SA", synack.flags)
    assert.equal(syn.seq + 1, synack.ack)   -- a SYN occupies one sequence number
    assert.equal(synack.seq + 1, ack.ack)
    assert.equal(syn.seq + 1, ack.seq)
    assert.equal(syn.abs_seq + 1, synack.abs_ack % 4294967296)
  end)

  it("prints the ladder with the seed's segment labels", function()
    for n = 1, 3 do
      assert.truthy(run.output:find("<- segment " .. n, 1, true), "label of segment " .. n)
    end
    assert.truthy(run.output:find("[SYN_RCVD] SYN #1", 1, true))
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/handshake.lua").output)
  end)
end)
