--- synfin.conn: connections: the C userdata's methods (synfin.core) with
-- the blocking calls added here (c:wait, c:recv, c:send_all, c:drain,
-- l:accept, and their waits for net:first), state callbacks (c:on) and
-- crafted segments from a connection (c:segment). Close policies are in
-- close.lua.
-- @module synfin
local core = require "synfin.core"
local types = require "synfin.types"
local scheduler = require "synfin.scheduler"
local segment = require "synfin.segment"
local util = require "synfin.util"
local where, argerror, shown, TWO32 = util.where, util.argerror, util.shown, util.TWO32
local crafted = segment.crafted
local synfin, nets, waitable, unknown_state = types.synfin, types.nets, scheduler.waitable, util.unknown_state

------------------------------------------------------------------------------
-- Connections: the C userdata, with the blocking calls added in Lua.
-- A connection comes from host:connect or l:accept, a listener from
-- host:listen; `local c <close> = a:connect(...)` closes it at the end of
-- its scope.
-- @type Conn
------------------------------------------------------------------------------

local conn = core.conn_methods

--- Queues data to send (SEND); never waits. Implemented in C, as are
-- read, `close_with`, abort, forget, state, info, set, id, host and `try_accept`.
-- @function Conn:send
-- @tparam string data
-- @tparam[opt] table opts urgent = true: urgent data (RFC 9293 §3.8.5)
-- @treturn[1] integer the bytes taken (fewer when the send buffer is full)
-- @return[2] nil, message, code

--- Reads what has arrived, up to max bytes; never waits (c:recv waits).
-- With `{ peek = true }` the bytes are copied and stay queued (the sockets
-- API's MSG_PEEK): the next read returns them again, and the window does
-- not move.
-- @function Conn:read
-- @tparam[opt=65536] integer max
-- @tparam[opt] table opts peek = true: copy without consuming
-- @treturn[1] string the data
-- @return[2] nil, "end of stream", 0 once the peer's FIN has been read
-- @return[3] nil, "try again", code when nothing is there yet; nil, message,
-- code on an error

--- CLOSE with the last data: queued with the FIN, so that they can leave
-- in one segment ("FIN carrying the last data").
-- @function Conn:close_with
-- @tparam string data
-- @treturn[1] boolean true
-- @return[2] nil, message, code

--- ABORT (RFC 9293 §3.10.5): a RST if the connection is synchronized, then
-- CLOSED.
-- @function Conn:abort
-- @treturn[1] boolean true
-- @return[2] nil, message, code

--- Forgets the connection: CLOSED at once, nothing sent (a host that
-- vanished; the peer finds out through its retransmissions or a RST).
-- @function Conn:forget
-- @treturn[1] boolean true
-- @return[2] nil, message, code

--- The connection's state now, one of synfin.STATES.
-- @function Conn:state
-- @treturn string

--- STATUS (RFC 9293 §3.10.6) and statistics: state, id, laddr, lport, raddr,
-- rport, iss, irs, `snd_una`, `snd_nxt`, `snd_wnd`, `rcv_nxt`, `rcv_wnd` (absolute
-- sequence numbers), `snd_queued`, `rcv_queued`, rto and srtt (seconds),
-- retransmits, `segs_in`, `segs_out`, `bytes_in`, `bytes_out`, error (the last
-- error's message, if any), `peer_closed`, urgent (unread urgent bytes).
-- @function Conn:info
-- @treturn table

--- Changes the connection's settings from now on (host settings, times in
-- seconds). `rcv_buf`, `rcv_buf_max`, `rcv_window`, mss, `window_scaling`
-- and timestamps are fixed when the connection is made: changing them is an
-- error (a profile given leaves them as they were).
-- @function Conn:set
-- @tparam table settings

--- The connection's id on its host: the conn of its records.
-- @function Conn:id
-- @treturn integer

--- The index of the connection's host in net.hosts.
-- @function Conn:host
-- @treturn integer

--- A listener: the next established connection of its queue, or nil; never
-- waits (l:accept waits).
-- @function Conn:try_accept
-- @treturn Conn or nil

-- The key of a connection's close policy in net.close_policies.
local function policy_key(c) return c:host() .. ":" .. c:id() end

--- The net this connection belongs to.
-- @function Conn:net
-- @treturn Net
function conn:net() return nets[self:sim()] end

--- The connection in words, for messages: "192.0.2.1:49152 (with
-- 192.0.2.2:80)", or "192.0.2.2:80 (listener)".
-- @function Conn:describe
-- @treturn string
local function describe(c)
  local i = c:info()
  -- (a listener has no remote port, even once closed: its waits describe
  -- it only when a message needs it)
  if i.state == "LISTEN" or i.rport == 0 then return ("%s:%d (listener)"):format(i.laddr, i.lport) end
  return ("%s:%d (with %s:%d)"):format(i.laddr, i.lport, i.raddr, i.rport)
end
conn.describe = describe

--- Waits until the connection reaches state (one of synfin.STATES); fails
-- early if it reaches CLOSED instead. Returns the connection.
-- @function Conn:wait
-- @tparam string state
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Conn
-- c:wait's wait as every other, looking at the records from `from` on
-- when its wait in place has looked at those before (Net:_wait_on).
local function waiting_from(c, state, from) return c:waiting(state, "wait", from) end

function conn:wait(state, t)
  local name = synfin.state(state)
  if not name then argerror(1, "wait", unknown_state(state)) end
  nets[self:sim()]:_wait_on("state", self, name, t, waiting_from)
  return self
end

--- The wait of c:wait, for net:first.
-- @function Conn:waiting
-- @tparam string state
-- @return a wait
function conn:waiting(state, fname, since)
  local name = synfin.state(state)
  if not name then argerror(1, fname or "waiting", unknown_state(state)) end
  state = name
  local net = self:net()
  return waitable(net, function() return describe(self) .. " to reach " .. state end, function()
    net:_sync()
    -- (since: c:wait's wait in place looked at the records until there)
    local already = not since and self:state() == state
    local sim, host, id = net.sim, self:host(), self:id()
    local from = since or sim:trace_len() + 1
    return function()
      if already then return true, self end
      -- its state records since (read in C: no view of each record)
      while true do
        local i, new, why = sim:next_state(from, host, id)
        if not i then
          from = new -- (where the trace ends now)
          return false
        end
        from = i + 1
        if new == state then return true, self end
        if new == "CLOSED" then
          return nil, ("%s reached CLOSED (%s) while waiting for %s"):format(describe(self), why, state)
        end
      end
    end, function() return "it is " .. self:state() end, nil, "state", self
  end)
end

--- Waits for n bytes (any amount when n is nil) and returns them; at the end
-- of the stream returns what there is, or nil, "end of stream"; a reset
-- returns nil, message.
-- @function Conn:recv
-- @tparam[opt] integer n bytes
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn[1] string the data
-- @return[2] nil, message
-- c:recv's wait as every other, with what its wait in place read (Net:_wait_on).
local function receiving_after(c, n, got) return c:receiving(n, got) end

function conn:recv(n, t)
  if n ~= nil and (math.type(n) ~= "integer" or n < 1) then argerror(1, "recv", "positive integer expected") end
  return nets[self:sim()]:_wait_on("read", self, n, t, receiving_after)
end

--- The wait of c:recv, for net:first.
-- @function Conn:receiving
-- @tparam[opt] integer n bytes
-- @return a wait
function conn:receiving(n, already)
  if n ~= nil and (math.type(n) ~= "integer" or n < 1) then argerror(1, "recv", "positive integer expected") end
  return waitable(self:net(), function() return ("%s to receive %s bytes"):format(describe(self), n or "some") end,
    function()
    -- (already: what c:recv's wait in place had read)
    local got, parts = already and #already or 0, { already }
    return function()
      while true do
        local data, err = self:read(n and (n - got) or 65536)
        if data then
          parts[#parts + 1] = data
          got = got + #data
          if not n or got >= n then return true, table.concat(parts) end
        elseif err == "try again" then
          return false
        elseif got > 0 then
          return true, table.concat(parts)
        else
          return true, nil, err
        end
      end
    end, function() return ("%d bytes came"):format(got) end, nil, "read", self
  end)
end

--- Queues all of data for sending, waiting while the send buffer is full;
-- returns the number of bytes (all of them) once the last is queued. For
-- bulk transfers: c:send takes only what fits.
-- @function Conn:send_all
-- @tparam string data
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn integer #data
function conn:send_all(data, t)
  return self:net():_await(self:sending_all(data), t)
end

--- The wait of c:send_all, for net:first.
-- @function Conn:sending_all
-- @tparam string data
-- @return a wait
function conn:sending_all(data)
  if type(data) ~= "string" then argerror(1, "send_all", "string expected") end
  return waitable(self:net(), function() return ("%s to queue %d bytes"):format(describe(self), #data) end,
    function()
    local off = 0
    return function()
      while off < #data do
        -- at most 64 KiB a call: never copy the rest of a large string
        local n, err = self:send(data:sub(off + 1, off + 65536))
        if not n and err ~= "try again" then return nil, err end
        if not n or n == 0 then return false end -- full: wait for room
        off = off + n
      end
      return true, off
    end, function() return ("%d of %d bytes were queued"):format(off, #data) end, nil, "change", self
  end)
end

-- The states in which a FIN of ours waits for its ACK (or to be sent).
local FIN_UNACKED = { FIN_WAIT_1 = true, CLOSING = true, LAST_ACK = true }

--- Waits until everything the connection has sent or queued is
-- acknowledged: no byte in the send buffer (SND.UNA = SND.NXT, nothing
-- unsent), and a FIN of ours, if it closed, acknowledged too (not in
-- `FIN_WAIT_1`, CLOSING, `LAST_ACK`); also not in `SYN_SENT` or `SYN_RCVD`.
-- Returns the connection. Fails if it reaches CLOSED with data or a FIN
-- unacknowledged (a reset), saying how much. For an actor that sends, with
-- another that reads: `s:send_all(data); s:drain(5); s:close()`.
-- @function Conn:drain
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Conn
function conn:drain(t)
  return self:net():_await(self:draining(), t)
end

--- The wait of c:drain, for net:first.
-- @function Conn:draining
-- @return a wait
function conn:draining()
  local net = self:net()
  if self:state() == "LISTEN" then
    error(("%sbad argument #1 to 'drain' (a listener sends nothing: drain a connection)"):format(where()), 0)
  end
  -- what is left, in words: "SND.UNA 1, SND.NXT 1001 (relative), 3000 bytes queued"
  local function left(i)
    return ("SND.UNA %d, SND.NXT %d (relative), %d bytes queued"):format((i.snd_una - i.iss) % TWO32,
      (i.snd_nxt - i.iss) % TWO32, i.snd_queued)
  end
  return waitable(net, function() return describe(self) .. " to have everything it sent acknowledged" end,
    function()
    return function()
      local i = self:info()
      local pending = i.snd_queued > 0 or i.snd_una ~= i.snd_nxt or FIN_UNACKED[i.state]
        or i.state == "SYN_SENT" or i.state == "SYN_RCVD"
      if not pending then return true, self end
      if i.state == "CLOSED" then
        return nil, ("%s reached CLOSED (%s) before everything it sent was acknowledged: %s")
          :format(describe(self), i.error or "closed", left(i))
      end
      return false
    end, function()
      local i = self:info()
      return ("it is %s, %s"):format(i.state, left(i))
    end, nil, "change", self
  end)
end

--- A listener: waits for the next established connection and returns it.
-- @function Conn:accept
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Conn
function conn:accept(t)
  local net = nets[self:sim()]
  local c = net:_wait_on("accept", self, nil, t, conn.accepting)
  local policy = next(net.close_policies) and net.close_policies[policy_key(self)]
  if policy then net.close_policies[policy_key(c)] = policy end -- (as accepting's check does)
  return c
end

--- The wait of l:accept, for net:first.
-- @function Conn:accepting
-- @return a wait
function conn:accepting()
  local net = self:net()
  return waitable(net, function() return describe(self) .. " to accept a connection" end, function()
    return function()
      local c = self:try_accept()
      if c then
        local policy = net.close_policies[policy_key(self)]
        if policy then net.close_policies[policy_key(c)] = policy end
        return true, c
      end
      if self:state() ~= "LISTEN" then return nil, describe(self) .. " is no longer listening" end
      return false
    end, nil, nil, "accept", self
  end)
end

--- Calls fn(old, new, record) on each state change of this connection, from
-- the scenario's loop (never inside the core). Only "state" exists now.
-- @function Conn:on
-- @tparam string event "state"
-- @tparam function fn called with old, new and the state record
-- @treturn Conn
function conn:on(event, fn)
  if event ~= "state" then argerror(1, "on", "\"state\" expected") end
  if type(fn) ~= "function" then argerror(2, "on", "function expected") end
  local net = self:net()
  local key = self:host() .. ":" .. self:id()
  net.listeners[key] = net.listeners[key] or {}
  local ls = net.listeners[key]
  ls.state = ls.state or {}
  table.insert(ls.state, fn)
  return self
end

--- Sends a crafted segment from this connection's host, filled from the
-- connection as the stack would send it now with those flags (default
-- "A"; c:header gives that segment): ports, seq = SND.NXT, ack = RCV.NXT
-- (with an ACK), the window field scaled as the connection scales it
-- (RFC 7323 §2.3), TTL and TOS, and once timestamps are agreed the
-- timestamp option (TSval of now, TSecr = TS.Recent: the peer's PAWS test,
-- RFC 7323 §5, passes) on every segment but a RST; on a SYN or SYN-ACK the
-- options its own would carry (MSS, window scale, timestamps,
-- SACK-permitted: only SYNs carry that). Fields given override (seq, ack
-- relative; `abs_seq`, `abs_ack` raw); `ts = false` leaves the timestamp
-- option out, `mss = false` (`wscale`, `sack_perm`, `sack`) another option.
-- Unknown fields are an error.
-- @function Conn:segment
-- @tparam[opt] table fields as for host:send, and ts
-- @treturn boolean true
-- @usage s:segment { flags = "S" }               -- RFC 5961 §4: draws a challenge ACK
-- s:segment { flags = "S", ts = false }          -- RFC 7323 §3.2: dropped
function conn:segment(fields)
  if fields ~= nil and type(fields) ~= "table" then
    argerror(1, "segment", "table of segment fields expected, got " .. shown(fields))
  end
  local seg = crafted(function(flags) return self:header(flags) end, fields or {})
  return self:net().hosts[self:host()]:inject("egress", seg)
end

--- The segment the connection would send now with these flags and no data,
-- as a table of absolute fields (src, dst, sport, dport, seq, ack, flags,
-- win, mss, wscale, `sack_perm`, `ts_val`, `ts_ecr`, ttl, tos): what
-- c:segment fills a crafted segment from. Implemented in C.
-- @function Conn:header
-- @tparam[opt="A"] string flags
-- @treturn table


-- (the methods are the userdata's: what close.lua needs goes apart)
return { methods = conn, describe = describe, policy_key = policy_key }
