-- RFC 9293 §3.7.1 (MUST-15): a peer whose SYN carries no MSS option gets
-- segments of the family's default send MSS at most: 536 bytes over IPv4
-- (576 - 40), 1220 over IPv6 (1280 - 60), on either side of the handshake.
local families = require "helpers.families"

families.describe("RFC 9293 §3.7.1: the default send MSS", function(f)
  local fixture = f.fixture.with_timing("rfc6298").with_window "rfc"
  local default = f.min_mtu - f.hdrs

  -- 100 bytes more than the default MSS go as a full segment and the rest
  local function sends_in_default_segments(t)
    t.c:send(string.rep("x", default + 100))
    t:expect { flags = "=A", seq = 1, len = default }
    t:expect { flags = "=PA", seq = 1 + default, len = 100 }
  end

  it("MUST-15: without an MSS option on the SYN-ACK, segments carry the family's default MSS at most (536, 1220)", function()
    local t = fixture.at_state("SYN_SENT", { peer_mss = false })
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    sends_in_default_segments(t)
  end)

  it("MUST-15: without an MSS option on the SYN, segments carry the family's default MSS at most (536, 1220)", function()
    local t = fixture.at_state("ESTABLISHED", { peer_mss = false, passive = true })
    sends_in_default_segments(t)
  end)
end)
