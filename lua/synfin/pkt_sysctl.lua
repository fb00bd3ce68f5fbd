--- synfin.pkt_sysctl: what packetdrill scripts set with shell lines
-- (`` `sysctl -q net.ipv4.tcp_sack=0` ``, `set_sysctls.py /proc/sys/...=N`,
-- the corpora's `defaults.sh`), as synfin host settings. One table: each
-- Linux sysctl the runner knows, and what it becomes on a synfin host:
--
-- * a setting: the value as a host setting (`tcp_sack=0` is `sack = false`);
-- * "same": synfin behaves as the sysctl's value says only for the values
--   listed (`tcp_reordering=3`: synfin's duplicate-ACK threshold is 3);
--   another value is unsupported;
-- * "inert": a feature synfin does not have, whose sysctl changes nothing
--   until a script uses the feature, and that use is itself unsupported
--   (Fast Open's cookie key, TSO, pacing, MPTCP);
-- * "unmodelled": a behaviour synfin does not have and that may change
--   what a script checks (RACK, F-RTO, DSACK): unsupported, unless the run
--   is lenient (`--lenient-sysctls`): then it runs and its result names
--   them ("unmodelled: net.ipv4.tcp_recovery=1").
--
-- A sysctl not in the table, and a shell command the runner does not know,
-- is unsupported. Nothing is passed over in silence.
-- @module synfin.pkt_sysctl
-- @pragma nostrip
local M = {}

local function choice(map)
  return function(v)
    local r = map[v]
    if r == nil then return nil, "value " .. v end
    return r
  end
end
local BOOL = choice { ["0"] = false, ["1"] = true }
local function count(v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 then return nil, "value " .. v end
  return n
end
-- microseconds as seconds, above 0 (a sysctl in _us; the setting's unit)
local function micros(v)
  local n = count(v)
  if not n or n == 0 then return nil, "value " .. v end
  return n / 1e6
end
-- the n-th number of a "min default max" triple
local function nth(n)
  return function(v)
    local t = {}
    for x in v:gmatch("%d+") do t[#t + 1] = math.tointeger(tonumber(x)) end
    if #t ~= 3 then return nil, "value " .. v .. " (three numbers expected)" end
    return t[n]
  end
end

--- The table: sysctl name -> { setting, convert, why } or { same = {values},
-- why } or { inert = why } or { unmodelled = why, unless = {values} }.
M.TABLE = {
  ["net.ipv4.tcp_timestamps"] = { "timestamps", BOOL, why = "RFC 7323 timestamps on SYNs" },
  ["net.ipv4.tcp_sack"] = { "sack", BOOL, why = "RFC 2018 SACK-permitted on SYNs" },
  ["net.ipv4.tcp_dsack"] = { "dsack", BOOL, why = "RFC 2883 D-SACK: a duplicate in the first SACK block" },
  ["net.ipv4.tcp_window_scaling"] = { "window_scaling", BOOL, why = "RFC 7323 window scaling" },
  -- synfin has one count for SYN and SYN-ACK retransmissions: both set it
  ["net.ipv4.tcp_syn_retries"] = { "syn_retries", count, why = "SYN retransmissions" },
  ["net.ipv4.tcp_synack_retries"] = { "syn_retries", count, why = "SYN-ACK retransmissions" },
  ["net.ipv4.tcp_retries1"] = { "r1", count, why = "R1 (RFC 9293 §3.8.3)" },
  ["net.ipv4.tcp_retries2"] = { "retries", count, why = "R2 (RFC 9293 §3.8.3)" },
  ["net.ipv4.tcp_congestion_control"] = { "congestion_control", choice { cubic = "cubic", reno = "newreno" },
    why = "cubic or reno (synfin's newreno)" },
  ["net.ipv4.tcp_ecn"] = { "ecn", choice { ["0"] = "off", ["1"] = "on", ["2"] = "accept" },
    why = "RFC 3168: 0 off, 1 asks, 2 accepts" },
  ["net.ipv4.tcp_syncookies"] = { "syn_cookies", choice { ["0"] = "never", ["1"] = "auto", ["2"] = "always" },
    why = "RFC 4987 §3.6 SYN cookies" },
  ["net.ipv4.tcp_rfc1337"] = { "rst_in_time_wait", choice { ["0"] = "close", ["1"] = "ignore" },
    why = "a RST in TIME_WAIT" },
  -- TCP_RTO_MIN's sysctl (since 6.11): tcp_rtt_estimator's floor under
  -- the RTO's variance term, the linux profile's rto_formula
  ["net.ipv4.tcp_rto_min_us"] = { "rto_min", micros, why = "the RTO's floor, microseconds" },
  -- 3 and 4 arm the tail loss probe (tcp_schedule_loss_probe)
  ["net.ipv4.tcp_early_retrans"] = { "tail_loss_probe",
    choice { ["0"] = false, ["1"] = false, ["2"] = false, ["3"] = true, ["4"] = true },
    why = "RFC 8985 §7 tail loss probe" },
  -- Linux announces the window scale its largest buffer needs
  -- (tcp_select_initial_window: tcp_rmem[2]) and autotunes toward it;
  -- synfin's rcv_buf_max is that buffer, for the shift
  ["net.ipv4.tcp_rmem"] = { "rcv_buf_max", nth(3), why = "tcp_rmem's largest buffer: the window scale" },
  -- a socket's send buffer starts at tcp_wmem[1]
  ["net.ipv4.tcp_wmem"] = { "snd_buf", nth(2), why = "tcp_wmem's default buffer" },
  ["net.ipv4.tcp_keepalive_intvl"] = { "keepalive_interval", count, why = "seconds between keep-alives" },
  ["net.ipv4.tcp_keepalive_probes"] = { "keepalive_probes", count, why = "keep-alives unanswered" },
  ["net.ipv4.tcp_min_snd_mss"] = { "min_snd_mss", count, why = "the smallest send MSS" },

  ["net.ipv4.tcp_reordering"] = { same = { "3" }, why = "synfin's duplicate-ACK threshold is 3 (RFC 5681)" },
  ["net.ipv4.tcp_fack"] = { same = { "0" }, why = "synfin has no FACK (gone from Linux since 4.15)" },
  ["net.ipv4.tcp_notsent_lowat"] = { same = { "4294967295" }, why = "no limit on unsent data, Linux's default" },
  ["net.ipv4.tcp_slow_start_after_idle"] = { same = { "0" },
    why = "synfin keeps its congestion window across idle periods (RFC 7661 is not done)" },

  ["net.ipv4.tcp_tso_win_divisor"] = { inert = "synfin has no TSO" },
  ["net.ipv4.tcp_min_tso_segs"] = { inert = "synfin has no TSO" },
  ["net.ipv4.tcp_pacing_ss_ratio"] = { inert = "synfin does not pace" },
  ["net.ipv4.tcp_pacing_ca_ratio"] = { inert = "synfin does not pace" },
  ["net.ipv4.tcp_fastopen"] = { inert = "synfin has no Fast Open: a script using it is unsupported (its option)" },
  ["net.ipv4.tcp_fastopen_key"] = { inert = "synfin has no Fast Open" },
  ["net.mptcp.enabled"] = { inert = "synfin has no MPTCP: IPPROTO_MPTCP sockets are unsupported" },

  ["net.ipv4.tcp_recovery"] = { unmodelled = "RACK loss detection (RFC 8985): synfin detects loss by RFC 6675",
    unless = { "0" } },
  ["net.ipv4.tcp_frto"] = { unmodelled = "F-RTO (RFC 5682)", unless = { "0" } },
}

-- Shell commands (other than sysctls) the runner knows, each a pattern
-- and why it changes nothing on a synfin host; any other is unsupported.
M.INERT_COMMANDS = {
  { "^ip tcp_metrics flush", "synfin keeps no per-destination metrics" },
  { "^tc qdisc add dev tun0 root pfifo%s*$", "the default queueing, as synfin's wire has" },
  { "^ethtool %-K tun0 tso off", "synfin has no TSO" },
  { "^/tmp/sysctl_restore_", "restores the sysctls after the test: each run has a host of its own" },
}

local function has(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

--- One sysctl as a host setting. Returns a table: { setting, value } (a
-- host setting), { inert = why } or { same = why }, { unmodelled = why },
-- or nil and why it is unsupported.
-- @tparam string name "net.ipv4.tcp_sack"
-- @tparam string value "0"
function M.map(name, value)
  local t = M.TABLE[name]
  if not t then return nil, ("sysctl %s (synfin has no setting for it)"):format(name) end
  if t.inert then return { inert = t.inert } end
  if t.same then
    if has(t.same, value) then return { same = t.why } end
    return nil, ("sysctl %s=%s (%s)"):format(name, value, t.why)
  end
  if t.unmodelled then
    if has(t.unless, value) then return { same = "off, as synfin" } end
    return { unmodelled = t.unmodelled }
  end
  local v, err = t[2](value)
  if v == nil then return nil, ("sysctl %s=%s: %s"):format(name, value, err) end
  return { setting = t[1], value = v }
end

-- "$((15*1024*1024))" as its number (the shell's arithmetic, for the
-- corpora's defaults.sh)
local function arith(s)
  return (s:gsub("%$%(%(([%d%*%+%- ]+)%)%)", function(e)
    local f = load("return " .. e, "=arith", "t", {})
    local ok, v = pcall(f or error)
    return ok and math.tointeger(v) and tostring(math.tointeger(v)) or nil
  end))
end

-- `a=1 b="x y"` as { { sysctl = "a", value = "1" }, ... }
local function assignments(s)
  local out, i = {}, 1
  while true do
    local name, j = s:match("^%s*([%w%._]+)=()", i)
    if not name then break end
    local q = s:sub(j, j)
    local value, k
    if q == '"' or q == "'" then
      value, k = s:match("^" .. q .. "([^" .. q .. "]*)" .. q .. "()", j)
      if not value then break end
    else
      value, k = s:match("^(%S*)()", j)
    end
    out[#out + 1] = { sysctl = name, value = value }
    i = k
  end
  return out
end

local function read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- A shell command of a script (the text between its backquotes) as a
-- list of steps, each { sysctl = name, value = v } or { inert = why,
-- command = line }; or nil and what is unsupported. `dir` is the script's
-- folder (a defaults.sh is read from there, relative to it).
-- @tparam string command
-- @tparam[opt] string dir
-- @tparam[opt] integer depth how deep in sourced files this is (at most 3 deep)
function M.shell(command, dir, depth)
  depth = depth or 0
  local steps = {}
  for raw in (command .. "\n"):gmatch("([^\n]*)\n") do
    local line = raw:gsub("%s+#.*$", ""):gsub("^%s*#.*$", ""):gsub(">%s*/dev/null%s*2>&1", "")
      :gsub("2>/dev/null", ""):match("^%s*(.-)%s*$")
    if line ~= "" then
      local args = line:match("^sysctl%s+%-q%s+(.*)$") or line:match("^sysctl%s+%-w%s+(.*)$")
        or line:match("^sysctl%s+(.*)$")
      local py = line:match("set_sysctls%.py%s+(.*)$")
      local script = line:match("^(%S*defaults%.sh)$")
      if args then
        for _, a in ipairs(assignments(arith(args))) do steps[#steps + 1] = a end
      elseif py then
        for path, value in py:gmatch("/proc/sys/(%S+)=(%S+)") do
          steps[#steps + 1] = { sysctl = path:gsub("/", "."), value = value }
        end
      elseif script then
        if depth > 2 then return nil, "shell command: " .. script .. " nested too deep" end
        local path = script:sub(1, 1) == "/" and script or (dir or ".") .. "/" .. script
        local text = read_file(path)
        if not text then return nil, ("shell command: %s (not found next to the script)"):format(script) end
        local sub, err = M.shell(text, path:match("^(.*)/[^/]*$") or ".", depth + 1)
        if not sub then return nil, err end
        for _, s in ipairs(sub) do steps[#steps + 1] = s end
      elseif not line:match("^#!") then
        local why
        for _, c in ipairs(M.INERT_COMMANDS) do
          if line:match(c[1]) then why = c[2] end
        end
        if not why then return nil, ("shell command: %s"):format(line:match("^%S+") or line) end
        steps[#steps + 1] = { inert = why, command = line }
      end
    end
  end
  return steps
end

return M
