-- synfin --pkt on the sim: --profile picks the synfin host's stack
-- profile, a script's sysctls set its settings over it (or make it
-- unsupported, never passed), and a flight the kernel's TSO would send as
-- one packet is read as one. Each script passes or fails here because of
-- the behaviour its name says.
local pkt = require "synfin.pkt"
local run = require "synfin.pkt_run"

local function sim(text, opts)
  opts = opts or {}
  opts.target = "sim"
  return run.events(assert(pkt.parse(text, "t.pkt")), opts)
end

-- a passive open whose SYN offers SACK; the SYN-ACK as line 6 says
local function open_with(synack, shell)
  return (shell or "") .. "\n" .. table.concat({
    "0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
    "+0  bind(3, ..., ...) = 0",
    "+0  listen(3, 1) = 0",
    "+0  < S 0:0(0) win 65535 <mss 1000,sackOK>",
    "+0  > S. 0:0(0) ack 1 " .. synack,
    "+.01 < . 1:1(0) ack 1 win 65535",
    "+0  accept(3, ..., ...) = 4",
  }, "\n") .. "\n"
end

describe("synfin --pkt: profiles, sysctls, TSO flights", function()
  it("a sysctl line sets the host's setting: tcp_sack=0 takes SACK off the SYN-ACK", function()
    local script = open_with("<mss 1460>", "`sysctl -q net.ipv4.tcp_sack=0`")
    assert.equal("passed", sim(script).status)
    -- without it, synfin answers SACK-permitted, as Linux does
    local r = sim(open_with("<mss 1460>"))
    assert.same({ "failed", "the SACK-permitted option differs" }, { r.status, r.message:match("^[^\n]*") })
  end)

  it("a sysctl synfin does not model is unsupported; --lenient-sysctls runs it and names it", function()
    local script = open_with("<mss 1460,sackOK>", "`sysctl -q net.ipv4.tcp_recovery=1`")
    local r = sim(script)
    assert.same({ "unsupported", 1 }, { r.status, r.line })
    assert.matches("net.ipv4.tcp_recovery=1: RACK", r.message, 1, true)
    r = sim(script, { lenient_sysctls = true })
    assert.same({ "passed", { "net.ipv4.tcp_recovery=1" } }, { r.status, r.notes })
  end)

  it("an unknown sysctl, an unknown command and a sysctl after the start are unsupported", function()
    local r = sim(open_with("<mss 1460,sackOK>", "`sysctl -q net.ipv4.tcp_autocorking=0`"))
    assert.same({ "unsupported", "sysctl net.ipv4.tcp_autocorking (synfin has no setting for it)" },
      { r.status, r.message })
    r = sim(open_with("<mss 1460,sackOK>", "`nstat -n`"))
    assert.same({ "unsupported", "shell command: nstat" }, { r.status, r.message })
    r = sim(open_with("<mss 1460,sackOK>") .. "+0 `sysctl -q net.ipv4.tcp_sack=0`\n")
    assert.same({ "unsupported", "sysctl net.ipv4.tcp_sack after the script's first system call" },
      { r.status, r.message })
  end)

  it("a write of ten segments is one TSO packet: it passes as the linux profile's first flight, not the rfc's", function()
    local script = open_with("<mss 1460,sackOK>") .. "+0 write(4, ..., 10000) = 10000\n+0 > P. 1:10001(10000) ack 1\n"
    -- RFC 6928's ten segments of 1000 bytes, sent at once, read as one
    assert.equal("passed", sim(script, { profile = "linux" }).status)
    -- RFC 5681 §3.1's initial window: 4000 bytes, then nothing until an ACK
    local r = sim(script, { profile = "rfc" })
    assert.same({ "failed", 10, "flags differ" }, { r.status, r.line, r.message:match("^[^\n]*") })
    assert.matches("actual:   > . 1:4001(4000) ack 1", r.message, 1, true)
  end)

  it("a flight is not read as one past what the line says", function()
    local script = open_with("<mss 1460,sackOK>") .. "+0 write(4, ..., 3000) = 3000\n+0 > P. 1:2001(2000) ack 1\n"
    local r = sim(script)
    -- two segments read as one, without the PSH that only the third has
    assert.same({ "failed", 10, "flags differ" }, { r.status, r.line, r.message:match("^[^\n]*") })
    assert.matches("actual:   > . 1:2001(2000) ack 1", r.message, 1, true)
  end)
end)
