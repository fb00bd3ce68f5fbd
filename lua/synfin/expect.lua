--- synfin.expect: expectations: net:expect and its rule (an expectation
-- never passes on the past: each actor's cursor), marks, net:expect_at,
-- net:expect_nothing, and what expect_all finds no expectation consumed.
-- @module synfin
local pattern = require "synfin.pattern"
local types = require "synfin.types"
local scheduler = require "synfin.scheduler"
local util = require "synfin.util"
local where, us, check_pattern, check_time_arg = util.where, util.us, util.check_pattern, util.check_time_arg
local synfin, Net, waitable = types.synfin, types.Net, scheduler.waitable

--- The net (continued).
-- @type Net

--- Waits for a segment on the wire that matches pat (see synfin.pattern),
-- and returns its record; the segment is consumed: no other expectation
-- matches it again.
--
-- The rule: an expectation sees only the segments sent after the later of
-- two points, the last time the running actor (the scenario, or one that
-- net:spawn added) resumed from a wait that was not an expectation, and
-- the match of its previous expectation. So a segment sent before the
-- scenario last waited (during a c:wait, a c:recv, a net:sleep) is the
-- past, and never passes an expectation by itself; a segment the script's
-- own call sends (c:close(), then net:expect of the FIN) is seen, and so
-- are the segments after a match, even sent at the same instant as it
-- (two expectations in a row for two segments of one flight). To look
-- further back, take a mark first and name it: `since = net:mark()` in the
-- pattern makes the expectation see every segment from the mark on (those
-- consumed already aside). A timeout names a segment the rule left out
-- that would have matched. Outside net:run the script is its own actor:
-- its waits resume it.
--
-- A segment an egress hook dropped never reached the wire.
-- @tparam table pat a pattern
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn table the segment's record
-- @usage c:close()
-- local fin = net:expect({ from = a, flags = "F" }, 1)
-- local m = net:mark()
-- c:wait("ESTABLISHED", 1)
-- net:expect({ from = a, flags = "=A", since = m }, 0)   -- the handshake's ACK
function Net:expect(pat, t)
  return self:_await(self:_expecting(pat, "expect"), t)
end

--- A mark of this point of the run, for the `since` of a pattern: an
-- expectation with `since = mark` sees every segment sent from the mark
-- on, also those sent before the scenario last resumed (see net:expect).
-- Fields: time (seconds), index (of the next record).
-- @treturn table the mark
function Net:mark()
  self:_sync()
  return setmetatable({ synfin_mark = true, index = #self.recs + 1, time = self:now() }, pattern.Mark)
end

-- Where the actor's expectations look from: pat.since, or its cursor.
local function start_of(pat, actor)
  return pat.since and pat.since.index or actor.cursor
end

-- The first segment on the wire that matches pat (compiled: cpat), from
-- where the actor's expectations look (or pat.since) on, and from `scan`
-- on (what an earlier check of the same wait walked already), not consumed
-- yet; consumed now (the actor's cursor moves past it). Returns the record,
-- or nil and where the next check may start.
local function next_match(net, pat, cpat, actor, scan)
  local from = start_of(pat, actor)
  local i, again = pattern.next(net, pat, cpat, scan and scan > from and scan or from)
  if not i then return nil, again end
  net.sim:consume(i)
  if i + 1 > actor.cursor then actor.cursor = i + 1 end
  actor.matched = true
  local r = net.recs[i]
  if pat.label then r.label = pat.label end
  return r
end

-- What came instead of a match, for a timeout's message; and the latest
-- segment the rule left out that would have matched.
local function unmatched(net, pat, cpat, actor)
  local from = start_of(pat, actor)
  local seen = {}
  for i = from, #net.recs do
    local r = net.recs[i]
    if synfin.on_wire(r) then seen[#seen + 1] = "#" .. r.n end
  end
  local said = #seen > 0 and ("segments " .. table.concat(seen, ", ") .. " did not match") or "no segment"
  local i = net.sim:match_back(from, cpat)
  while i do
    local r = net.recs[i]
    if pattern.where(net, r, pat) then
      return said .. ("; segment #%d (t=%.3f s) would match, but was sent before this expectation's"
        .. " start (where the scenario last resumed, or the previous expectation's match):"
        .. " take a mark before it and give since = mark to look back"):format(r.n, r.time)
    end
    i = net.sim:match_back(i, cpat)
  end
  return said
end

--- The wait of net:expect, for net:first.
-- @tparam table pat a pattern
-- @return a wait
function Net:expecting(pat)
  return self:_expecting(pat, "expecting")
end

-- net:expecting, its errors naming fname.
function Net:_expecting(pat, fname)
  check_pattern(pat, 1, fname)
  return waitable(self, pattern.describe(self, pat), function()
    local actor = self:_actor()
    local cpat = pattern.compile(self, pat)
    local scan
    return function()
      local r, again = next_match(self, pat, cpat, actor, scan)
      if r then return true, r end
      scan = again
      return false
    end, function() return unmatched(self, pat, cpat, actor) end
  end, "nothing came")
end

--- Waits for the next segment matching pat to come at time at (seconds on
-- the net's clock, as net:now() and records' time), give or take the
-- net's tolerance for the interval from now to at (net:slack; exactly at
-- on a sim). Fails if it comes early, and if it is late says by how much
-- (waiting at most as long again, within the net's timeout, to find out).
-- For timers: retransmissions, keepalives, TIME_WAIT's end. It sees the
-- segments net:expect would.
-- @tparam table pat a pattern
-- @tparam number at the time it should come
-- @treturn table the segment's record
-- @usage local again = net:expect_at({ flags = "SA" }, first.time + 1) -- RTO: 1 s
function Net:expect_at(pat, at)
  check_pattern(pat, 1, "expect_at")
  check_time_arg(at, 2, "expect_at")
  local actor = self:_actor()
  local now = self:now()
  local slack = self:slack(math.max(0, at - now))
  local lo, hi = us(at - slack), us(at + slack)
  -- past the window, wait a little longer only to say how late it was
  local extra = math.min(self.timeout, math.max(1, at - now))
  local what = pattern.describe(self, pat)
  local window = slack > 0 and ("t=%.3f s (+/- %.3f s tolerance)"):format(at, slack) or ("t=%.6f s"):format(at)
  local cpat = pattern.compile(self, pat)
  local scan
  local r = self:_block(what .. " at " .. window, math.max(0, at + slack - now) + extra, function()
    local r, again = next_match(self, pat, cpat, actor, scan)
    if not r then
      scan = again
      return false
    end
    local t = r.time_us or us(r.time)
    if t < lo or t > hi then
      return nil, ("expected %s at %s, but segment #%d came at t=%.3f s, %.3f s %s")
        :format(what, window, r.n, r.time, math.abs(r.time - at), t < lo and "early" or "late")
    end
    return true, r
  end, nil, true) -- a sleep: its end is no failure of itself, the check below says what missed
  if not r then
    error(("%sexpected %s at %s, nothing came by t=%.3f s (%.3f s late and counting); %s\nlast lines of the trace:\n%s")
      :format(where(), what, window, self:now(), self:now() - at, unmatched(self, pat, cpat, actor), self:_tail()), 0)
  end
  return r
end

--- Fails if a segment matching pat goes on the wire within t seconds
-- (counting from the call; with `since = mark` in the pattern, from the
-- mark on); returns true otherwise. It consumes nothing.
-- @tparam table pat a pattern
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn boolean true
function Net:expect_nothing(pat, t)
  check_pattern(pat, 1, "expect_nothing")
  self:_sync()
  local from = pat.since and pat.since.index or #self.recs + 1
  local what = pattern.describe(self, pat)
  t = check_time_arg(t or self.timeout, 2, "expect_nothing")
  -- on a real-time net a segment in the window's last stretch (the
  -- tolerance) may be one that is due just then: forgiven
  local slack = math.min(t, self:slack(t))
  local start = self.sim:now()
  local strict_until = start + us(t - slack)
  local cpat = pattern.compile(self, pat)
  self:_block("nothing like " .. what, t, function()
    local i, again = pattern.next(self, pat, cpat, from, "any")
    from = again or from
    while i do
      local r = self.recs[i]
      if r.time_us < strict_until then
        if slack > 0 then
          local after = ((r.time_us or us(r.time)) - start) / 1e6
          return nil, ("expected nothing like %s for %.3f s (-%.3f s tolerance), but segment #%d came at t=%.3f s, after %.3f s: %.3f s early")
            :format(what, t, slack, r.n, r.time, after, t - after)
        end
        return nil, ("expected nothing like %s for %g s, but segment #%d came at t=%.3f s")
          :format(what, t, r.n, r.time)
      end
      i, again = pattern.next(self, pat, cpat, i + 1, "any")
      from = again or from
    end
    return false
  end, nil, true)
  return true
end

-- The segments on the wire of this run that no expectation consumed and
-- that expect_all says must be (a pattern, or true: all).
function Net:_unexpected(sc)
  local scope = sc.expect_all == true and {} or sc.expect_all
  local cscope = pattern.compile(self, scope)
  local out = {}
  local i = pattern.next(self, scope, cscope, sc.first)
  while i do
    local r = self.recs[i]
    out[#out + 1] = ("#%d %s from %s at t=%.3f s (seq=%s ack=%s len=%d)"):format(r.n,
      r.flags ~= "" and r.flags or ".", r.src, r.time, tostring(r.seq), tostring(r.ack), r.len or 0)
    i = pattern.next(self, scope, cscope, i + 1)
  end
  return out
end


return Net
