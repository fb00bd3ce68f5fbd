-- synfin --pkt on the sim: the end of a time range or of a blocking call
-- with a relative start is moved by the same offset as its start, as
-- packetdrill's adjust_relative_event_times does: `+0.1...0.2 read` starts
-- 0.1 s and ends 0.2 s after the previous event (Linux's selftest
-- tcp_blocking_blocking-read.pkt is written so). Each script passes only
-- with that reading, and fails with the others (0.2 s into the script, or
-- 0.2 s after the call's start).
local pkt = require "synfin.pkt"
local run = require "synfin.pkt_run"
local HANDSHAKE = require "helpers.pkt_handshake" -- accept returns 4 at t = 0.01

local function sim(text)
  return run.events(assert(pkt.parse(HANDSHAKE .. text, "t.pkt")), { target = "sim" })
end

describe("synfin --pkt: relative times with an end", function()
  it("+0...0.1 read: blocked from the previous event until data comes 0.1 s later", function()
    local r = sim "+0...0.1 read(4, ..., 10) = 10\n+.1 < P. 1:11(10) ack 1 win 65535\n+0 > . 1:1(0) ack 11\n"
    assert.equal("passed", r.status, r.message)
  end)

  it("+.1...0.2 read: starts 0.1 s, returns 0.2 s after the previous event", function()
    local r = sim "+.1...0.2 read(4, ..., 10) = 10\n+.1 < P. 1:11(10) ack 1 win 65535\n+0 > . 1:1(0) ack 11\n"
    assert.equal("passed", r.status, r.message)
    -- read as 0.2 s after its start, it would return 0.1 s early
    r = sim "+.1...0.3 read(4, ..., 10) = 10\n+.1 < P. 1:11(10) ack 1 win 65535\n+0 > . 1:1(0) ack 11\n"
    assert.equal("failed", r.status)
    assert.truthy(r.message:find("early", 1, true), r.message)
  end)

  it("+.05~+.1 > ...: a packet due between 0.05 and 0.1 s after the previous event", function()
    local r = sim "+0 write(4, ..., 10) = 10\n+.05~+.1 > P. 1:11(10) ack 1\n"
    assert.equal("failed", r.status) -- it comes at once: early
    assert.truthy(r.message:find("early", 1, true), r.message)
    r = sim "+0 write(4, ..., 10) = 10\n+0~+.1 > P. 1:11(10) ack 1\n"
    assert.equal("passed", r.status, r.message)
  end)
end)
