-- synfin.pkt_sysctl: the sysctls of packetdrill's shell lines as synfin
-- host settings, one table. Each kind of entry (a setting, "same", inert,
-- unmodelled, unknown) and each kind of shell line (sysctl, set_sysctls.py,
-- a defaults.sh, a command known to change nothing, any other).
local sysctl = require "synfin.pkt_sysctl"

describe("synfin.pkt_sysctl", function()
  it("maps a sysctl synfin has a setting for to that setting", function()
    assert.same({ setting = "sack", value = false }, sysctl.map("net.ipv4.tcp_sack", "0"))
    assert.same({ setting = "ecn", value = "on" }, sysctl.map("net.ipv4.tcp_ecn", "1"))
    assert.same({ setting = "tail_loss_probe", value = true }, sysctl.map("net.ipv4.tcp_early_retrans", "4"))
    -- microseconds, as the setting's seconds
    assert.same({ setting = "rto_min", value = 0.2 }, sysctl.map("net.ipv4.tcp_rto_min_us", "200000"))
    assert.same({ setting = "congestion_control", value = "newreno" },
      sysctl.map("net.ipv4.tcp_congestion_control", "reno"))
    -- the largest receive buffer, which sets Linux's window scale
    assert.same({ setting = "rcv_buf_max", value = 15728640 }, sysctl.map("net.ipv4.tcp_rmem", "4096 540000 15728640"))
  end)

  it("refuses a value synfin cannot take, and a sysctl it does not know, saying which", function()
    local m, why = sysctl.map("net.ipv4.tcp_congestion_control", "bbr")
    assert.is_nil(m)
    assert.equal("sysctl net.ipv4.tcp_congestion_control=bbr: value bbr", why)
    m, why = sysctl.map("net.ipv4.tcp_reordering", "10")
    assert.is_nil(m)
    assert.matches("tcp_reordering=10 (synfin's duplicate-ACK threshold is 3", why, 1, true)
    -- no RTO floor of 0 (the setting's is above 0), and no fraction
    m, why = sysctl.map("net.ipv4.tcp_rto_min_us", "0")
    assert.is_nil(m)
    assert.equal("sysctl net.ipv4.tcp_rto_min_us=0: value 0", why)
    assert.is_nil((sysctl.map("net.ipv4.tcp_rto_min_us", "1.5")))
    m, why = sysctl.map("net.ipv4.tcp_autocorking", "0")
    assert.is_nil(m)
    assert.equal("sysctl net.ipv4.tcp_autocorking (synfin has no setting for it)", why)
  end)

  it("says what is the same, what is inert and what synfin does not model", function()
    assert.truthy(sysctl.map("net.ipv4.tcp_reordering", "3").same)
    assert.truthy(sysctl.map("net.ipv4.tcp_fastopen", "0x3").inert)
    assert.matches("RACK", sysctl.map("net.ipv4.tcp_recovery", "1").unmodelled)
    -- off: what synfin does
    assert.truthy(sysctl.map("net.ipv4.tcp_recovery", "0").same)
  end)

  it("reads sysctl lines, set_sysctls.py lines and the shell's arithmetic, less comments", function()
    local steps = assert(sysctl.shell(table.concat({
      "sysctl -q net.ipv4.tcp_ecn=1  # fully enabled",
      'sysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))"',
      "sysctl -q net.ipv4.tcp_early_retrans=4 net.ipv4.tcp_recovery=1",
      "./set_sysctls.py /proc/sys/net/ipv4/tcp_min_tso_segs=10",
    }, "\n")))
    assert.same({
      { sysctl = "net.ipv4.tcp_ecn", value = "1" },
      { sysctl = "net.ipv4.tcp_rmem", value = "4096 540000 15728640" },
      { sysctl = "net.ipv4.tcp_early_retrans", value = "4" },
      { sysctl = "net.ipv4.tcp_recovery", value = "1" },
      { sysctl = "net.ipv4.tcp_min_tso_segs", value = "10" },
    }, steps)
  end)

  it("reads a defaults.sh from the script's folder; a missing one or an unknown command is unsupported", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/common " .. dir .. "/sub"))
    local f = assert(io.open(dir .. "/common/defaults.sh", "w"))
    f:write("#!/bin/bash\n# a comment\nip tcp_metrics flush all > /dev/null 2>&1\nsysctl -q net.ipv4.tcp_sack=0\n")
    f:close()
    local steps = assert(sysctl.shell("../common/defaults.sh", dir .. "/sub"))
    assert.equal(2, #steps)
    assert.matches("no per%-destination metrics", steps[1].inert)
    assert.same({ sysctl = "net.ipv4.tcp_sack", value = "0" }, steps[2])
    local none, why = sysctl.shell("./defaults.sh", dir)
    assert.is_nil(none)
    assert.equal("shell command: ./defaults.sh (not found next to the script)", why)
    none, why = sysctl.shell("nstat -n", dir)
    assert.is_nil(none)
    assert.equal("shell command: nstat", why)
    os.execute("rm -rf " .. dir)
  end)
end)
