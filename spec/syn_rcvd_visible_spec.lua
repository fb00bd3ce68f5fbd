-- Claim C3 (README), SYN_RCVD made visible by a withheld ACK: examples/syn_rcvd_visible.lua.
local example = require "helpers.example"
local families = require "helpers.families"

families.describe("SYN_RCVD with the handshake's last ACK withheld (claim C3)", function(f)
  local run = f.example("examples/syn_rcvd_visible.lua")
  local net = run.net
  local client, server = net.hosts[1], net.hosts[2]

  it("puts exactly these segments on the wire", function()
    assert.same({
      "client>server S seq=0 ack=0 len=0",                  -- segment 1
      "server>client SA seq=0 ack=1 len=0",                 -- segment 2
      "client>server A seq=1 ack=1 len=0 dropped_egress",   -- segment 3, withheld
      "server>client SA seq=0 ack=1 len=0",                 -- segment 2 again, after the RTO
      "client>server A seq=1 ack=1 len=0",                  -- segment 3 again
    }, example.segments(net))
  end)

  it("takes the client to ESTABLISHED on the first SYN-ACK", function()
    assert.same({ "SYN_SENT", "ESTABLISHED" }, example.states(net, client))
    assert.equal(2, example.entered(net, client, "ESTABLISHED").seg)
  end)

  it("keeps the server in SYN_RCVD until an ACK arrives", function()
    assert.same({ "SYN_RCVD", "ESTABLISHED" }, example.states(net, server))
    local rcvd = example.entered(net, server, "SYN_RCVD")
    local est = example.entered(net, server, "ESTABLISHED")
    local ack = example.segment(net, 5)
    assert.equal(1, rcvd.seg)
    assert.equal(5, est.seg)                       -- on the ACK that got through
    assert.equal(ack.time_us + 5000, est.time_us)  -- the instant it arrived (latency 5 ms)
    assert.equal(1010000, est.time_us - rcvd.time_us) -- SYN_RCVD for RTO + one round trip
  end)

  it("retransmits the SYN-ACK after the RTO (1 s), with the same sequence number", function()
    local first, again = example.segment(net, 2), example.segment(net, 4)
    assert.equal("SA", again.flags)
    assert.equal(first.abs_seq, again.abs_seq)
    assert.equal(first.abs_ack, again.abs_ack)
    assert.equal(1000000, again.time_us - first.time_us)
  end)

  it("dropped the withheld ACK with the client's hook, nothing else", function()
    local dropped = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.fate ~= "delivered" then
        dropped = dropped + 1
        assert.equal(3, r.n)
        assert.equal("dropped_egress", r.fate)
      end
    end
    assert.equal(1, dropped)
  end)

  it("prints the ladder with the seed's segment labels", function()
    assert.truthy(run.output:find("<- segment 2 again: SYN+ACK retransmitted", 1, true))
    assert.truthy(run.output:find("dropped by hook", 1, true))
  end)

  it("gives the same trace twice for the same seed", function()
    assert.equal(run.output, f.example("examples/syn_rcvd_visible.lua").output)
  end)
end)
