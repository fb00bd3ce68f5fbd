-- Why the protocol dropped a segment, or took note of one: every note the
-- core writes carries a code (core/reason.c: its name, text and rule) and
-- whether the segment was dropped, so that specs assert codes, not prose.
local fixture = require "synfin.fixture"
local sm = require "helpers.state_machine"

-- Our passive connection with timestamps agreed; the peer's clock at 2.
local function with_ts()
  local t = fixture.at_state("LISTEN")
  t:send { flags = "S", seq = 0, ts_val = 1, ts_ecr = 0 }
  local synack = t:expect { flags = "=SA" }
  t:send { flags = "A", seq = 1, ack = 1, ts_val = 2, ts_ecr = synack.ts_val }
  t.c = assert(t.l:accept(1))
  t.our_ts = synack.ts_val
  return t
end

-- The last of the protocol's notes on our host.
local function last_note(t)
  local found
  for _, r in ipairs(t.net:records()) do
    if r.kind == "note" and r.host == t.us.index and r.code then found = r end
  end
  return found
end

describe("reason codes on the protocol's notes", function()
  it("PAWS: an old TSval is dropped with an ACK (RFC 7323 §5.3)", function()
    local t = with_ts()
    local mark = sm.mark(t)
    t:send { flags = "PA", seq = 1, ack = 1, ts_val = 1, ts_ecr = t.our_ts, payload = "old" }
    t:expect { flags = "=A", ack = 1 }
    assert.same({ "paws" }, sm.codes(t, mark))
    local r = last_note(t)
    assert.is_true(r.dropped)
    assert.equal("PAWS: timestamp older than TS.Recent: ACK sent", r.text)
  end)

  it("a segment without a timestamp once they are agreed (RFC 7323 §3.2)", function()
    local t = with_ts()
    local mark = sm.mark(t)
    t:send { flags = "PA", seq = 1, ack = 1, payload = "x" }
    assert.same({ "no_timestamp" }, sm.codes(t, mark))
  end)

  it("out of the window: seq_unacceptable; out of order: ooo_held, a note, not a drop", function()
    local t = fixture.at_state("ESTABLISHED")
    local mark = sm.mark(t)
    t:send { flags = "A", seq = 100000, payload = "far" }
    t:send { flags = "A", seq = 11, payload = "later" }
    assert.same({ "seq_unacceptable", "ooo_held" }, sm.codes(t, mark))
    local r = last_note(t)
    assert.equal("ooo_held", r.code)
    assert.is_false(r.dropped)
  end)

  it("the RFC 5961 challenges, each with its own code", function()
    -- (no connection's limit: three challenges in a row all answered)
    local t = fixture.at_state("ESTABLISHED", { settings = { challenge_ack_interval = 0 } })
    local mark = sm.mark(t)
    t:send { flags = "R", seq = 5 }                  -- in the window, not exact (§3.2)
    t:send { flags = "S", seq = 1 }                  -- a SYN in the window (§4.2)
    t:send { flags = "A", seq = 1, ack = 500 }       -- ACK of data not sent (§5.2)
    assert.same({ "challenge_rst", "challenge_syn", "challenge_ack_unsent" }, sm.codes(t, mark))
  end)

  it("LISTEN: a RST is ignored, an ACK draws a RST, no SYN is dropped", function()
    local t = fixture.at_state("LISTEN")
    local mark = sm.mark(t)
    t:send { flags = "R", seq = 0 }
    t:send { flags = "A", seq = 0, ack = 7 }
    t:send { flags = "P", seq = 0, payload = "x" }
    assert.same({ "listen_rst", "listen_ack", "listen_no_syn" }, sm.codes(t, mark))
  end)

  it("a SYN cookie sent is a note: the SYN was answered", function()
    local t = fixture.new()
    t.l = assert(t.us:listen(fixture.PORT, { syn_cookies = "always" }))
    t.c = t.l
    local mark = sm.mark(t)
    t:send { flags = "S", seq = 0 }
    assert.same({ "cookie_sent" }, sm.codes(t, mark))
    assert.is_false(last_note(t).dropped)
  end)

  it("bare ACKs out of the window draw one ACK each 0.5 s at most (oow_ack_limited); data is always answered", function()
    -- found by fuzz_stack: two peers a blind injection put out of step ACKed
    -- each other's ACKs for ever (Linux: tcp_invalid_ratelimit)
    local t = fixture.at_state("ESTABLISHED")
    local mark = sm.mark(t)
    t:send { flags = "A", seq = 100000 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    t:send { flags = "A", seq = 100000 }
    t:send { flags = "A", seq = 100000, payload = "old data" }
    t:expect { flags = "=A", seq = 1, ack = 1 } -- for the data
    t:sleep(0.5)
    t:send { flags = "A", seq = 100000 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.same({ "seq_unacceptable", "oow_ack_limited", "seq_unacceptable", "seq_unacceptable" },
      sm.codes(t, mark))
  end)

  it("PAWS drops bare ACKs under the same limit", function()
    local t = with_ts()
    local mark = sm.mark(t)
    t:send { flags = "A", seq = 1, ack = 1, ts_val = 1, ts_ecr = t.our_ts }
    t:send { flags = "A", seq = 1, ack = 1, ts_val = 1, ts_ecr = t.our_ts }
    assert.same({ "paws", "oow_ack_limited" }, sm.codes(t, mark))
  end)
end)
