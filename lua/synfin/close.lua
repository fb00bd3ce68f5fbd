--- synfin.close: close policies: c:set_close gives a connection (or a
-- listener, for the connections it accepts) a Lua function that decides
-- what c:close() does (a FIN, a RST, nothing, lingering, a delayed FIN, a
-- shorter TIME_WAIT): a policy, not a patch to the core.
-- @module synfin
local conns = require "synfin.conn"
local util = require "synfin.util"
local where, raise, argerror, shown, check_time = util.where, util.raise, util.argerror, util.shown, util.check_time
local conn, policy_key, describe = conns.methods, conns.policy_key, conns.describe

--- Connections (continued).
-- @type Conn

------------------------------------------------------------------------------
-- Close behaviours as Lua functions (a policy, not a patch to the core)
------------------------------------------------------------------------------

local close_now = conn.close -- the C CLOSE

local CLOSE_DECISION = { linger = true, fin_with = true, delay_fin = true, time_wait = true }

-- Carries out a close policy's decision (see conn:set_close).
local function close_as(c, decision)
  local net = c:net()
  if decision == nil or decision == "fin" then return close_now(c) end
  if decision == "rst" then return c:abort() end
  if decision == "silent" then return c:forget() end
  if type(decision) ~= "table" then
    raise(("bad close decision %s: \"fin\", \"rst\", \"silent\" or a table of linger, fin_with, delay_fin, time_wait"):format(tostring(decision)))
  end
  for k, v in pairs(decision) do
    if not CLOSE_DECISION[k] then raise(("bad close decision: unknown key '%s'"):format(tostring(k))) end
    if k == "fin_with" then
      if type(v) ~= "string" then raise(("bad close decision: fin_with must be a string, got %s"):format(shown(v))) end
    else
      check_time(v, ("close decision '%s'"):format(k))
    end
  end
  if decision.time_wait then
    -- TIME_WAIT lasts 2*MSL: this connection's MSL is half of it. With 0
    -- there is no TIME_WAIT at all, which RFC 9293 forbids (MUST-13):
    -- its protection then rests on timestamps (RFC 6191) and the ISN clock
    c:set { msl = decision.time_wait / 2 }
  end
  local function finish()
    if c:state() == "CLOSED" then return true end
    if decision.fin_with then return c:close_with(decision.fin_with) end
    return close_now(c)
  end
  if decision.delay_fin then
    net:_at(decision.delay_fin, finish)
  else
    local ok, err, code = finish()
    if not ok then return ok, err, code end
  end
  if decision.linger then
    -- SO_LINGER with a timeout: if our FIN is not acknowledged by then, RST
    local deadline = (decision.delay_fin or 0) + decision.linger
    net:_at(deadline, function()
      local st = c:state()
      if st == "FIN_WAIT_1" or st == "CLOSING" or st == "LAST_ACK" or st == "ESTABLISHED"
        or st == "CLOSE_WAIT" then
        c:abort()
      end
    end)
  end
  return true
end

--- CLOSE, through the connection's close policy when it has one.
-- Without one, RFC 9293's CLOSE (§3.10.4): no more data to send, a FIN
-- follows what is queued; a listener stops listening.
-- @function Conn:close
-- @treturn[1] boolean true
-- @return[2] nil, message, code
function conn:close()
  local net = self:net()
  if not next(net.close_policies) then return close_now(self) end -- (no policy anywhere: no key to make)
  local key = policy_key(self)
  local policy = net.close_policies[key]
  if not policy then return close_now(self) end
  net.deciding = net.deciding or {}
  if net.deciding[key] then
    error(where() .. "synfin: c:close() inside its own close policy: the policy returns what to do"
      .. " (\"fin\", \"rst\", \"silent\" or a table), it does not close", 0)
  end
  net.deciding[key] = true
  local ok, decision = net.sim:call("close policy", "the close policy of " .. describe(self),
    policy, self, { reason = "close" })
  net.deciding[key] = nil
  if not ok then error(decision, 0) end
  -- not a tail call: close_as's errors name the line that called close
  local cok, err, code = close_as(self, decision)
  return cok, err, code
end

--- Gives the connection a close behaviour: policy(c, event) is called when
-- the application closes it, and returns what to do: nothing or "fin" (the
-- RFC's CLOSE), "rst" (ABORT), "silent" (forget it, sending nothing), or a
-- table: { linger = s } (a RST if the FIN is not acknowledged within s),
-- { `fin_with` = data } (the last data and the FIN in one segment),
-- { `delay_fin` = s } (the FIN s later), { `time_wait` = s } (`TIME_WAIT` lasts s;
-- 0: none, against MUST-13). Keys combine. Timers run while the scenario
-- waits. A listener's policy goes to the connections it accepts.
-- @function Conn:set_close
-- @tparam function policy called with the connection and { reason = "close" }
-- @treturn Conn
-- @usage c:set_close(function(c, event) return { linger = 1 } end)
function conn:set_close(policy)
  if type(policy) ~= "function" then argerror(1, "set_close", "function expected") end
  self:net().close_policies[policy_key(self)] = policy
  return self
end


return conns
