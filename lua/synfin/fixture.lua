--- State-machine test fixtures in the smoltcp style (send a segment at time
-- t, expect the exact reply; expect nothing until t): one synfin host under test, "us" (192.0.2.1), and a bare
-- scripted peer, "them" (192.0.2.2), on a zero-latency sim. A fixture puts
-- the connection in any of the eleven states; then a test sends the peer's
-- segments and expects our exact replies.
--
--     local fixture = require "synfin.fixture"
--     local t = fixture.at_state("FIN_WAIT_1")
--     t:send { flags = "FA", ack = t:our_nxt() }      -- the peer's FIN, acking ours
--     t:expect { flags = "=A", seq = t:our_nxt(), ack = t.peer_nxt }
--     assert.equal("TIME_WAIT", t.c:state())
--
-- Numbers are relative: our ISN is 1000 (absolute), the peer's 5000, and
-- both show as 0. t:send fills seq with the peer's next sequence number
-- (`t.peer_nxt`), ack with ours (`t:our_nxt()`), flags with "A", the window with
-- `t.peer_win` and the ports with the connection's; a field given wins.
-- t:expect checks the *next* segment we sent, strictly: fields not named are
-- not checked. `t:expect_nothing(s)` fails if we send anything within s seconds.
--
-- fixture.US and fixture.THEM are the two addresses, `fixture.OUR_ISN` and
-- `fixture.PEER_ISN` the absolute ISNs, fixture.PORT the server's port (80)
-- and fixture.SPORT the client's (49152).
-- @module synfin.fixture
-- @pragma nostrip
local synfin = require "synfin"

local fixture = {}
local Fx = {}
Fx.__index = Fx

local US, THEM = "192.0.2.1", "192.0.2.2"
local OUR_ISN, PEER_ISN = 1000, 5000
local PORT, SPORT = 80, 49152

--- A fresh pair: opts.latency (default 0), opts.settings (for our host),
-- `opts.peer_win` (default 65535), `opts.peer_mss` (default 1460; false: none),
-- `opts.peer_sack` (the peer's SYN permits SACK, RFC 2018; default not),
-- opts.us and opts.them (the addresses, default fixture.US and fixture.THEM:
-- "2001:db8::1" and "2001:db8::2" make the same pair over IPv6).
-- @tparam[opt] table opts latency, settings, `peer_win`, `peer_mss`, `peer_sack`, seed, us, them
-- @treturn Fixture with no connection yet
function fixture.new(opts)
  opts = opts or {}
  local settings = { isn = OUR_ISN }
  for k, v in pairs(opts.settings or {}) do settings[k] = v end
  local net = synfin.sim { seed = opts.seed or 1, latency = opts.latency or 0 }
  local t = setmetatable({
    net = net,
    us = net:host(opts.us or US, settings),
    them = net:peer(opts.them or THEM),
    peer_nxt = 0,         -- the peer's next relative sequence number
    peer_win = opts.peer_win or 65535,
    peer_mss = opts.peer_mss == nil and 1460 or opts.peer_mss,
    peer_sack = opts.peer_sack,
    cursor = 1,           -- the next of our segments t:expect looks at
    passive = false,
  }, Fx)
  return t
end

--- A fixture: t.net, our host t.us, the peer t.them (a bare peer), our
-- connection t.c once there is one (t.l, the listener, when passive), and
-- `t.peer_nxt` and `t.peer_win`, what the peer's next segment carries.
-- @type Fixture

--- Our next relative sequence number (SND.NXT - ISS).
-- @function Fixture:our_nxt
-- @treturn integer
function Fx:our_nxt()
  local i = self.c:info()
  return (i.snd_nxt - i.iss) % 4294967296
end

--- The peer sends a segment to us (relative numbers, defaults above); we
-- process it at once, before anything else arrives.
-- @function Fixture:send
-- @tparam[opt] table seg a segment (flags, seq, ack, win, payload, ...)
-- @treturn Fixture
function Fx:send(seg)
  self:queue(seg)
  self.net:sleep(0)
  return self
end

--- Segments the peer sends together: they arrive at the same instant and we
-- process them all before answering (MUST-59).
-- @function Fixture:send_together
-- @tparam {table,...} list segments, as for t:send
-- @treturn Fixture
function Fx:send_together(list)
  for _, seg in ipairs(list) do self:queue(seg) end
  self.net:sleep(0)
  return self
end

--- Puts the peer's segment on the wire toward us, without letting time run.
-- @function Fixture:queue
-- @tparam[opt] table seg as for t:send
-- @treturn Fixture
function Fx:queue(seg)
  seg = seg or {}
  local s = {}
  for k, v in pairs(seg) do s[k] = v end
  local c = self.c
  local info = c and c:info()
  s.flags = s.flags or "A"
  s.win = s.win or self.peer_win
  s.sport = s.sport or (info and info.rport ~= 0 and info.rport) or SPORT
  s.dport = s.dport or (info and info.lport) or PORT
  if s.seq == nil and s.abs_seq == nil then s.seq = self.peer_nxt end
  if s.ack == nil and s.abs_ack == nil and info and info.iss ~= 0 then
    s.ack = self:our_nxt()
  end
  if not s.flags:find("A", 1, true) and seg.ack == nil and seg.abs_ack == nil then s.ack = 0 end
  if s.flags:find("S", 1, true) and s.seq == 0 and s.abs_seq == nil then
    s.abs_seq = PEER_ISN -- the peer's SYN: its ISN, relative 0
    s.seq = nil
    if s.mss == nil and self.peer_mss then s.mss = self.peer_mss end
    if s.sack_perm == nil and self.peer_sack then s.sack_perm = true end
  end
  self.them:send(s)
  -- the peer's next sequence number moves over what it sent
  local seq = s.seq or 0
  local len = #(s.payload or "") + (s.flags:find("S", 1, true) and 1 or 0)
    + (s.flags:find("F", 1, true) and 1 or 0)
  if s.abs_seq == PEER_ISN then seq = 0 end
  if seq + len > self.peer_nxt then self.peer_nxt = seq + len end
  return self
end

local function mismatch(r, want)
  local diff = {}
  for k, v in pairs(want) do
    local have = r[k]
    if k == "flags" then
      local exact = v:sub(1, 1) == "="
      local ok = require("synfin.pattern").flags_match(r.flags, v)
      if not ok then diff[#diff + 1] = ("flags %s (wanted %s%s)"):format(r.flags, exact and "exactly " or "", v:gsub("^=", "")) end
    elseif k ~= "label" and have ~= v then
      diff[#diff + 1] = ("%s=%s (wanted %s)"):format(k, tostring(have), tostring(v))
    end
  end
  table.sort(diff)
  return #diff > 0 and table.concat(diff, ", ") or nil
end

--- Expects our next segment (within t seconds, default 1) to match want
-- (flags, seq, ack, win, len, payload, mss, ...); returns its record.
-- @function Fixture:expect
-- @tparam table want the fields to check
-- @tparam[opt=1] number t seconds
-- @treturn table the segment's record
function Fx:expect(want, t)
  local net = self.net
  local us = self.us.index
  return net:_block("our next segment " .. require("synfin.pattern").describe(net, want), t or 1, function()
    for i = self.cursor, #net.recs do
      local r = net.recs[i]
      if synfin.on_wire(r) and r.from == us then
        self.cursor = i + 1
        local bad = mismatch(r, want)
        if bad then return nil, ("our segment #%d (%s seq=%d ack=%d) has %s"):format(r.n, r.flags, r.seq, r.ack, bad) end
        return true, r
      end
    end
    return false
  end)
end

--- Lets t:expect look only at what we send from now on.
-- @function Fixture:skip
-- @treturn Fixture
function Fx:skip()
  self.net:_sync()
  self.cursor = #self.net.recs + 1
  return self
end

--- Fails if we send any segment within t seconds.
-- @function Fixture:expect_nothing
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Fixture
function Fx:expect_nothing(t)
  local net = self.net
  local us = self.us.index
  net:_sync()
  for i = self.cursor, #net.recs do
    local r = net.recs[i]
    if synfin.on_wire(r) and r.from == us then
      error(("expected nothing from us, but segment #%d (%s) is pending"):format(r.n, r.flags), 2)
    end
  end
  net:expect_nothing({ from = self.us }, t)
  net:_sync()
  self.cursor = #net.recs + 1
  return self
end

--- Lets virtual time pass (seconds).
-- @function Fixture:sleep
-- @tparam number t seconds
-- @treturn Fixture
function Fx:sleep(t)
  self.net:sleep(t)
  return self
end

--- Our connection's state.
-- @function Fixture:state
-- @treturn string one of synfin.STATES ("CLOSED" before there is one)
function Fx:state() return self.c and self.c:state() or "CLOSED" end

-- The ways into each state, each building on an earlier one.
local build = {}

function build.CLOSED(t) return t end

function build.LISTEN(t)
  t.l = assert(t.us:listen(PORT))
  t.c = t.l
  t.passive = true
  return t
end

function build.SYN_SENT(t)
  t.c = assert(t.us:connect(t.them.addr, PORT, { sport = SPORT }))
  t:expect { flags = "=S", seq = 0 }
  return t
end

function build.SYN_RCVD(t)
  build.LISTEN(t)
  t:send { flags = "S", seq = 0, sport = SPORT, dport = PORT }
  t:expect { flags = "=SA", seq = 0, ack = 1 }
  t.c = assert(t.net.sim:lookup(t.us.index, t.them.addr, SPORT, PORT))
  return t
end

function build.ESTABLISHED(t, passive)
  if passive then
    build.SYN_RCVD(t)
    t:send { flags = "A", seq = 1, ack = 1 }
    t.net:sleep(0)
    t.c = assert(t.l:accept(1))
  else
    build.SYN_SENT(t)
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
  end
  assert(t.c:state() == "ESTABLISHED")
  return t
end

function build.FIN_WAIT_1(t, passive)
  build.ESTABLISHED(t, passive)
  t.c:close()
  t:expect { flags = "=FA", seq = 1, ack = 1 }
  return t
end

function build.FIN_WAIT_2(t, passive)
  build.FIN_WAIT_1(t, passive)
  t:send { flags = "A", ack = 2 }
  t.net:sleep(0)
  return t
end

function build.CLOSING(t, passive)
  build.FIN_WAIT_1(t, passive)
  t:send { flags = "FA", ack = 1 } -- the peer's FIN, not acking ours
  t:expect { flags = "=A", seq = 2, ack = 2 }
  return t
end

function build.TIME_WAIT(t, passive)
  build.FIN_WAIT_2(t, passive)
  t:send { flags = "FA", ack = 2 }
  t:expect { flags = "=A", seq = 2, ack = 2 }
  return t
end

function build.CLOSE_WAIT(t, passive)
  build.ESTABLISHED(t, passive)
  t:send { flags = "FA" }
  t:expect { flags = "=A", seq = 1, ack = 2 }
  return t
end

function build.LAST_ACK(t, passive)
  build.CLOSE_WAIT(t, passive)
  t.c:close()
  t:expect { flags = "=FA", seq = 1, ack = 2 }
  return t
end

--- @section end

local function at_state(new, state, opts)
  state = synfin.state(state) or state
  local way = build[state]
  if not way then error(("bad argument #1 to 'at_state' (unknown state '%s')"):format(tostring(state)), 3) end
  local t = new(opts)
  way(t, opts and opts.passive)
  local got = t:state()
  if got ~= state and state ~= "CLOSED" then
    error(("fixture: wanted %s, got %s"):format(state, got), 3)
  end
  return t
end

--- A fixture with our connection in `state`. opts as fixture.new, plus
-- passive = true to reach the synchronized states as the server.
-- @tparam string state one of synfin.STATES, spelt either way ("FIN-WAIT-1")
-- @tparam[opt] table opts as for fixture.new, and passive
-- @treturn Fixture
-- @usage local t = fixture.at_state("CLOSE_WAIT", { passive = true })
function fixture.at_state(state, opts)
  return at_state(fixture.new, state, opts)
end

--- The retransmission timings a spec can name (fixture.with_timing):
-- "linux", the default profile's (Linux's tcp_rtt_estimator and
-- __tcp_set_rto: RTO = SRTT + a variance term of at least 200 ms, at most
-- 120 s, RFC 8985's tail loss probe, SYNs resent 1 s apart 4 times first,
-- tcp_syn_linear_timeouts), and "rfc6298", RFC 6298 read literally: RTO =
-- max(SRTT + 4*RTTVAR, 1 s) ((2.3), (2.4)), at most 60 s ((2.5)), doubled
-- at each timeout, a SYN's too ((5.5)), and no tail loss probe (RFC 9293
-- has none).
fixture.TIMINGS = {
  linux = {},
  rfc6298 = { rto_min = 1, rto_max = 60, rto_formula = "rfc6298", tail_loss_probe = false, syn_linear_timeouts = 0 },
}

--- The rules a spec can name (fixture.with_rules) where the linux profile
-- follows Linux and not RFC 9293's text: "linux", the default profile's
-- (a zero-window probe of no data at SND.UNA - 1, tcp_xmit_probe_skb; one
-- challenge ACK per connection per 0.5 s, tcp_send_challenge_ack), and
-- "rfc": a probe of one byte of new data (§3.8.6.1), challenge ACKs
-- limited by the host's challenge_ack_limit alone (RFC 5961 §7).
fixture.RULES = {
  linux = {},
  rfc = { zero_window_probe = "data", challenge_ack_interval = 0 },
}

--- The receive sides a spec can name (fixture.with_window): "linux", the
-- default profile's (tcp_select_initial_window's 64240 = 44 * 1460 first,
-- a window scale for 6 MiB, __tcp_select_window after; quick-ACK mode, then
-- delayed ACKs, core/quickack.c), and "rfc": all of rcv_buf's free space,
-- receiver SWS avoidance (RFC 9293 §3.8.6.2.2), the smallest scale for
-- rcv_buf (RFC 7323 §2.3): 65535 unscaled by default; ACKs at once, or as
-- RFC 9293 §3.8.6.3 says when the spec sets delayed_ack.
fixture.WINDOWS = {
  linux = {},
  rfc = { rcv_window = "rfc", rcv_buf_max = 0, delayed_ack_variant = "rfc", delayed_ack = 0 },
}

-- This module with settings under every fixture's host (given ones win)
local function with_settings(base)
  local m = setmetatable({}, { __index = fixture })
  function m.new(opts)
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.settings = {}
    for k, v in pairs(base) do o.settings[k] = v end
    for k, v in pairs(opts and opts.settings or {}) do o.settings[k] = v end
    return fixture.new(o)
  end
  function m.at_state(state, opts) return at_state(m.new, state, opts) end
  local function adding(sets, what)
    return function(name)
      local add = sets[name]
      if not add then error(("bad argument #1 to 'with_%s' (unknown %s '%s')"):format(what, what, tostring(name)), 2) end
      local merged = {}
      for k, v in pairs(base) do merged[k] = v end
      for k, v in pairs(add) do merged[k] = v end
      return with_settings(merged)
    end
  end
  m.with_timing = adding(fixture.TIMINGS, "timing")
  m.with_window = adding(fixture.WINDOWS, "window")
  m.with_rules = adding(fixture.RULES, "rules")
  return m
end

--- This module with every fixture's host on the named timing (one of
-- fixture.TIMINGS); settings given to new or at_state win over it. A spec
-- whose point is an RFC rule's timing says so once, at its top:
--
--     local fixture = require("synfin.fixture").with_timing "rfc6298"
-- @tparam string name "rfc6298" or "linux"
-- @treturn table new, at_state and the constants, as this module's, and
-- with_window to add a window
fixture.with_timing = with_settings({}).with_timing

--- This module with every fixture's host on the named receive window (one
-- of fixture.WINDOWS), as with_timing; the two combine:
--
--     local fixture = require("synfin.fixture").with_timing("rfc6298").with_window "rfc"
-- @tparam string name "rfc" or "linux"
-- @treturn table new, at_state and the constants, as this module's
fixture.with_window = with_settings({}).with_window

--- This module with every fixture's host on the named rules (one of
-- fixture.RULES), as with_timing; it combines with the others:
--
--     local fixture = require("synfin.fixture").with_timing("rfc6298").with_rules "rfc"
-- @tparam string name "rfc" or "linux"
-- @treturn table new, at_state and the constants, as this module's
fixture.with_rules = with_settings({}).with_rules

fixture.OUR_ISN, fixture.PEER_ISN, fixture.PORT, fixture.SPORT = OUR_ISN, PEER_ISN, PORT, SPORT
fixture.US, fixture.THEM = US, THEM

return fixture
