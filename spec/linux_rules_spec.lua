-- The linux profile's rules where Linux departs from RFC 9293's text (the
-- differential's scenarios zero_window_probe, ack_unsent_established and
-- syn_retransmit, spec/interop/socket_scenarios.lua, compare them with the
-- kernel): what a zero-window probe is, how often a connection sends a
-- challenge ACK, and when SYNs are sent again. Other specs name the RFC's
-- (fixture.with_rules "rfc", with_timing "rfc6298").
local fixture = require "synfin.fixture"
local sm = require "helpers.state_machine"

describe("the linux profile's zero-window probe (tcp_write_wakeup, tcp_xmit_probe_skb)", function()
  it("MUST-36: is an ACK without data at SND.UNA - 1, the RTO after the window closed, then backing off; the peer's ACK does not stop it", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0 })
    t.c:send("hello")
    local times = {}
    for i = 1, 3 do
      local probe = t:expect({ flags = "=A", seq = 0, ack = 1, len = 0 }, 10)
      times[i] = probe.time
      t:send { flags = "A", ack = 1, win = 0 } -- still closed
    end
    -- the RTO (200 ms: the handshake's RTT sample on a link of no latency
    -- plus TCP_RTO_MIN), then twice as long each time
    assert.near(0.2, times[1], 1e-5)
    assert.near(0.4, times[2] - times[1], 1e-5)
    assert.near(0.8, times[3] - times[2], 1e-5)
    t:send { flags = "A", ack = 1, win = 100 } -- the window opens: the data, whole
    t:expect { flags = "PA", seq = 1, len = 5, payload = "hello" }
  end)
end)

describe("the linux profile's challenge ACKs (tcp_send_challenge_ack)", function()
  it("one per connection per 0.5 s: an ACK of unsent data draws one, the next within 0.5 s none, one after", function()
    local t = fixture.at_state("ESTABLISHED")
    local mark = sm.mark(t)
    t:send { flags = "A", seq = 1, ack = 500 } -- RFC 5961 §5.2: ACK of data never sent
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    t:sleep(0.1)
    t:send { flags = "A", seq = 1, ack = 900 }
    t:send { flags = "R", seq = 100 } -- RFC 5961 §3.2: the same clock
    t:expect_nothing(0.3)
    t:sleep(0.2) -- 0.6 s after the first
    t:send { flags = "A", seq = 1, ack = 900 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    assert.same({ "challenge_ack_unsent", "challenge_limited", "challenge_limited", "challenge_ack_unsent" },
      sm.codes(t, mark))
    assert.equal("ESTABLISHED", t:state())
  end)
end)

describe("the linux profile's SYN retransmissions (tcp_syn_linear_timeouts = 4)", function()
  it("with syn_retries = 2: SYNs at 0, 1, 2, 3, 4, 5 s with the same options, CLOSED with a timeout at 7 s", function()
    local t = fixture.at_state("SYN_SENT", { settings = { syn_retries = 2 } })
    local first = sm.ours(t)[1]
    for _, s in ipairs { 1, 2, 3, 4, 5 } do
      local r = t:expect({ flags = "=S", seq = 0, mss = first.mss, wscale = first.wscale }, 2)
      assert.equal(s * 1000000, r.time_us)
    end
    t:expect_nothing(10)
    local closed = sm.entered(t, t.c, "CLOSED")
    assert.equal(7000000, closed.time_us) -- 1 + 2 + 4 s: syn_retries doubling RTOs
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("with Linux's default tcp_syn_retries, 6: 10 retransmissions, the last at 67 s, CLOSED at 131 s", function()
    local t = fixture.at_state("SYN_SENT", { settings = { syn_retries = 6 } })
    local at = { 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 }
    for _, s in ipairs(at) do
      local r = t:expect({ flags = "=S", seq = 0 }, 65)
      assert.equal(s * 1000000, r.time_us)
    end
    t:expect_nothing(100)
    -- syn_retries + 4 retransmissions, checked when the next timer fires
    assert.equal(131 * 1000000, sm.entered(t, t.c, "CLOSED").time_us)
  end)
end)
