--- synfin.scheduler: the net's clock and the waits on it. Every blocking
-- call is a wait (scheduler.waitable) that net:_block runs: inside a
-- scenario it yields to actors.lua's loop, outside it drives the clock
-- itself (net:_drive); either steps the clock in C (sim:drive) until
-- something can settle a wait (its wake). The only actor of net:run runs
-- its wait in place of the loop (sim:wait; c:wait, c:recv and l:accept
-- check and all in C, net:_wait_on and sim:wait_on) until the loop is
-- needed. Also the scenario's own timers (close policies), the watchers
-- (synfin.kernel's socket calls), the state callbacks (c:on), and
-- net:first, net:after and net:sleep.
-- @module synfin
local types = require "synfin.types"
local util = require "synfin.util"
local where, argerror, us = util.where, util.argerror, util.us
local check_time, check_time_arg = util.check_time, util.check_time_arg
local running = coroutine.running
local Net = types.Net

local scheduler = {}

local MAX_STEPS = 50000000 -- a wait that needs more has a runaway network
scheduler.MAX_STEPS = MAX_STEPS

--- The net (continued).
-- @type Net

-- Runs the state callbacks of records not yet dispatched.
function Net:_dispatch()
  local n = self.sim:trace_len()
  if not next(self.listeners) then -- nobody listens: nothing to read
    self.dispatched = n
    return
  end
  while self.dispatched < n do
    local i = self.sim:next_record(self.dispatched + 1, "state")
    if not i then
      self.dispatched = n
      break
    end
    self.dispatched = i
    local r = self.recs[i]
    local ls = self.listeners[r.host .. ":" .. r.conn]
    if ls then
      for _, fn in ipairs(ls.state or {}) do
        local what = ("a state callback of connection %d on %s"):format(r.conn, self.hosts[r.host].addr)
        local ok, err = self.sim:call("state callback", what, fn, r.old, r.new, r)
        if not ok then return "a state callback failed: " .. tostring(err) end
      end
    end
  end
end

function Net:_failure()
  local errs = self.sim:errors() -- (nil when there are none: no table per step)
  if errs then return "a hook failed: " .. table.concat(errs, "\n") end
end

-- What a wait waits for, in words. A wait may give it as a function, called
-- only when a message needs it: describing a connection reads its whole
-- status, too much for every wait.
local function what_of(w)
  local what = w.what
  if type(what) == "function" then
    what = what()
    w.what = what
  end
  return what
end
scheduler.what_of = what_of

-- The script's line that waits with w ("x.lua:12: "), found when a message
-- needs it: the actor's suspended stack has it (the caller's own stack
-- when the wait runs outside a scenario).
local function where_of(w)
  local at = w.where
  if not at then
    at = where(w.co)
    w.where = at
  end
  return at
end

-- After a step of the clock: what the scenario's loop must see to, in
-- order (failed hooks, state callbacks, close policies' timers, watchers,
-- the time limit); a message when one of them fails the run. Each is
-- skipped at the cost of a test when there is none: this runs after every
-- event.
function Net:_after_step(first)
  self:_sync()
  local bad = self:_failure()
  if not bad then
    -- (nobody listens: what happened until now is past for a callback set later)
    if next(self.listeners) then bad = self:_dispatch() else self.dispatched = self.synced end
  end
  if not bad and self.timers[1] then bad = self:_run_timers() end
  if not bad and self.watchers and self.watchers[1] then bad = self:_watch() end
  if bad then return bad end
  local over = self.sim:over_time()
  if over then
    return ("synfin: the scenario ran past its time limit of %g s (time_limit), at t=%.3f s, while waiting for %s")
      :format(over, self:now(), what_of(first))
  end
  self:_sync() -- what the timers and watchers did
end

-- A wait's check has answered ok, ...: its outcome ("ok" and its results
-- packed, or "fail" and why), or nil while it is not settled (nothing is
-- allocated then: the checks run after every event).
local function outcome(ok, ...)
  if ok then return "ok", table.pack(...) end
  if ok == nil then return "fail", (...) end
end

-- Drives the clock until one of the waits is settled: its check says done
-- or fails, or its deadline passes. Returns that wait and "ok", results...
-- or "fail", message; a failure of the net's own (a hook, a state callback,
-- the time limit) goes to the first wait. With a budget (a time on the
-- net's clock, microseconds) that comes first, returns nil, "pending" when
-- it has come (net:step: the waits go on at the next step).
function Net:_drive(waits, budget)
  local first = waits[1]
  while true do
    local bad = self:_after_step(first)
    if bad then return first, "fail", bad end
    for i = 1, #waits do
      local w = waits[i]
      local kind, res = outcome(w.check())
      if kind == "ok" then return w, "ok", table.unpack(res, 1, res.n) end
      if kind then return w, "fail", self:_check_failed(w, res) end
      if w.idle then return w, self:_timed_out(w) end
      w.steps = w.steps + 1
      if w.steps > MAX_STEPS then
        return w, "fail", where_of(w) .. "the network did not settle while waiting for " .. what_of(w)
      end
    end
    -- step to the first deadline, stopping at the scenario's own timers
    -- (close policies) and at a race's net:after branch, due before the
    -- race's deadline (which has the tolerance on top)
    local now = self.sim:now()
    local deadline = first.deadline
    for i = 2, #waits do
      local d = waits[i].deadline
      if d < deadline then deadline = d end
    end
    local limit = deadline
    for i = 1, #waits do
      local wake = waits[i].wake
      if wake and wake < limit and wake > now then limit = wake end
    end
    local timer = self.timers[1]
    if timer and timer.at < limit then limit = timer.at end
    local paused = budget and budget < limit
    if paused then limit = budget end
    -- the clock runs in C while no wait can be settled (sim:drive: the
    -- waits' wakes); then each wait is asked, as after every event before
    local room = MAX_STEPS - first.steps
    for i = 2, #waits do
      local left = MAX_STEPS - waits[i].steps
      if left < room then room = left end
    end
    local stepped, steps = self.sim:drive(limit, self.watchers and self.watchers[1] and 1 or room + 1,
      next(self.listeners) ~= nil, waits, self)
    if steps > 1 then
      for i = 1, #waits do waits[i].steps = waits[i].steps + steps - 1 end
    end
    if not stepped then
      if paused then return nil, "pending" end
      if limit < deadline then
        bad = self:_run_timers()
        if bad then return first, "fail", bad end
      else
        -- nothing more happens before these deadlines, and the clock is there
        for i = 1, #waits do
          local w = waits[i]
          if w.deadline <= limit then w.idle = true end
        end
      end
    end
  end
end

-- A wait whose check failed (said why): the message, at the script's line.
function Net:_check_failed(w, why)
  return where_of(w) .. why .. "\nlast lines of the trace:\n" .. self:_tail()
end

-- A wait whose deadline has come: a sleep's end, or a timeout's failure.
function Net:_timed_out(w)
  if w.sleep then return "ok" end
  local instead = w.instead and w.instead() or nil
  instead = instead and ("\n  instead: " .. instead) or ""
  if w.slack > 0 then
    -- a real-time net: say by how much the expectation missed
    return "fail", ("%stimed out waiting for %s: expected within %.3f s (+%.3f s tolerance), %s for %.3f s (at t=%.3f s)%s\nlast lines of the trace:\n%s")
      :format(where_of(w), what_of(w), w.timeout, w.slack, w.missing or "it had not happened",
        (self.sim:now() - w.start) / 1e6, self:now(), instead, self:_tail())
  end
  return "fail", ("%stimed out after %g s (at t=%.3f s) waiting for %s%s\nlast lines of the trace:\n%s")
    :format(where_of(w), w.timeout, self:now(), what_of(w), instead, self:_tail())
end

-- Runs the watchers (net:_watching) after every event: each fn() returns
-- true once it is done (it is then dropped); a failing one fails the
-- scenario. synfin.kernel's socket facade completes its pending calls so,
-- at the very instant their condition holds.
function Net:_watch()
  local ws = self.watchers
  if not ws then return nil end
  local i = 1
  while ws[i] do
    local ok, done = xpcall(ws[i], debug.traceback)
    if not ok then return "a socket call failed: " .. tostring(done) end
    if done then table.remove(ws, i) else i = i + 1 end
  end
end

-- Adds a watcher (see Net:_watch).
function Net:_watching(fn)
  self.watchers = self.watchers or {}
  table.insert(self.watchers, fn)
end

-- Runs the scenario's timers that are due; a failing one fails the scenario.
function Net:_run_timers()
  local now = self.sim:now()
  while self.timers[1] and self.timers[1].at <= now do
    local timer = table.remove(self.timers, 1)
    local ok, err = xpcall(timer.fn, debug.traceback)
    if not ok then return "a close policy's timer failed: " .. tostring(err) end
  end
end

-- Calls fn at virtual time now + seconds, while the scenario waits.
function Net:_at(seconds, fn)
  local timer = { at = self.sim:now() + us(seconds), fn = fn, order = #self.timers }
  local i = #self.timers + 1
  while i > 1 and self.timers[i - 1].at > timer.at do i = i - 1 end
  table.insert(self.timers, i, timer)
end

-- The actor running now: the scenario or one that net:spawn added, each a
-- coroutine with its expectation cursor; net.outside when the script runs
-- outside a scenario (its waits drive the clock themselves).
function Net:_actor()
  local sc = self.scenario
  if sc then
    local co = running()
    local current = sc.current -- (the one resumed last: most often the one asking)
    if current and current.co == co then return current end
    for _, a in ipairs(sc.actors) do
      if a.co == co then return a end
    end
  end
  return self.outside
end

-- The wait of actor is over with kind ("ok" or "fail") and its results or
-- message: what it returns to the script (passed through, not packed: this
-- is every wait's way out).
local function ended(net, actor, kind, ...)
  if not actor.matched then net:_resumed(actor) end
  if kind == "fail" then error((...), 0) end
  return ...
end

-- The wait w of actor, run in place (sim:wait), has ended so (kind, and
-- its results or the check's message); "lua": the scenario's loop takes it on.
local function in_place(net, actor, w, kind, ...)
  if kind == "lua" then return ended(net, actor, coroutine.yield(w)) end
  if kind == "fail" then return ended(net, actor, "fail", net:_check_failed(w, (...))) end
  if kind == "timeout" then return ended(net, actor, net:_timed_out(w)) end
  return ended(net, actor, kind, ...)
end

-- Blocks the running actor on a wait: yields inside net:run, drives directly
-- outside. A wait that is not a sleep gets the net's tolerance on top of its
-- timeout (net:slack: 0 on a sim); missing says what did not happen
-- ("nothing came"), for the timeout's message on a real-time net.
--
-- When the wait is over the actor resumes, and its expectations see only
-- the segments sent from then on; unless an expectation matched in this
-- wait: then from just after its match (see net:expect).
--
-- what may be a function that says it (see what_of); the script's line
-- is found only if a message needs it (where_of).
-- since and steps: a wait begun in place (Net:_wait_on) goes on here: its
-- start (the clock's microseconds) and the steps it took.
function Net:_block(what, timeout, check, instead, sleep, missing, wake, wk, wc, since, steps)
  local kind, busy = self.sim:busy()
  if kind and kind ~= "scenario" then
    -- waiting would move the clock under it, or yield across the C that runs it
    error(("%ssynfin: waiting for %s inside %s: a callback runs to its end without waiting")
      :format(where(), what_of { what = what }, busy), 0)
  end
  timeout = timeout or self.timeout
  check_time(timeout, "the timeout")
  local slack = sleep and 0 or self:slack(timeout)
  local now = since or self.sim:now()
  local actor = self:_actor()
  local w = { synfin_wait = true, what = what, timeout = timeout, check = check, instead = instead,
    sleep = sleep, co = actor.co, start = now, slack = slack, missing = missing,
    deadline = now + us(timeout + slack), wake = wake, steps = steps or 0, wk = wk, wc = wc }
  actor.matched = false
  if actor.co then
    local sc = self.scenario
    -- the only actor of net:run, on a wait the core can wake: the clock
    -- runs in C without the loop (sim:wait), until something needs it
    if wk and sc.live == 1 and sc.run then return in_place(self, actor, w, self.sim:wait(w, self, MAX_STEPS)) end
    return ended(self, actor, coroutine.yield(w))
  end
  return ended(self, actor, select(2, self:_drive({ w })))
end

-- Runs fn(...) as an action of the current actor, not a wait, even if it
-- drives the net meanwhile: the actor's expectation cursor stays where it
-- was, so what was sent since its last expectation stays in view, as after
-- c:send (synfin.kernel's socket calls are such actions).
function Net:_action(fn, ...)
  local actor = self:_actor()
  local cursor = actor.cursor
  local res = table.pack(pcall(fn, ...))
  if actor.cursor > cursor then actor.cursor = cursor end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- The actor has resumed: what was sent until now is in its past.
function Net:_resumed(actor)
  self:_sync()
  local next_rec = self.synced + 1 -- (_sync has reached the trace's end)
  if next_rec > actor.cursor then actor.cursor = next_rec end
end

-- A wait that has not begun: start() makes its check (and what to say
-- instead on a timeout) when the waiting begins. Every blocking call is one
-- of these, run by Net:_await; Net:first races several.
local function waitable(net, what, start, missing)
  return { synfin_waitable = true, net = net, what = what, start = start, missing = missing }
end

function Net:_await(w, t, since, steps)
  local check, instead, deadline, wk, wc = w.start()
  if deadline then t = math.max(0, (deadline - self.sim:now()) / 1e6) end
  return self:_block(w.what, t, check, instead, deadline ~= nil, w.missing, nil, wk, wc, since, steps)
end

-- The actor that may run its wait in place of the scenario's loop: the
-- scenario's only one under net:run, when it is the one asking; else nil.
local function soloist(net)
  local sc = net.scenario
  if not sc or not sc.run or sc.live ~= 1 then return nil end
  local a = sc.current
  if a and a.co == running() then return a end
end

-- A wait in place that sim:wait_on has ended: "ok" and its results, or
-- handed back ("lua", when it began, its steps and its progress) to go on
-- as general(c, arg, progress), the wait as every other runs (see
-- Net:_wait_on).
local function waited_on(net, actor, general, c, arg, t, kind, ...)
  if kind == "ok" then return ended(net, actor, "ok", ...) end
  local since, steps, progress = ...
  return net:_await(general(c, arg, progress), t, since, steps)
end

-- c:wait, c:recv and l:accept: kind, c and arg as sim:wait_on takes them,
-- t the timeout, general(c, arg, progress) the wait made as every other
-- (with what sim:wait_on did of it). The scenario's only actor on a sim
-- without tolerance waits in C, check and all (sim:wait_on): no wait
-- table, no closure, no yield; anything out of the ordinary goes the
-- general way.
function Net:_wait_on(kind, c, arg, t, general)
  local actor = soloist(self)
  t = t or self.timeout
  if actor and not self.tol and not self.realtime and type(t) == "number" then
    actor.matched = false
    return waited_on(self, actor, general, c, arg, t, self.sim:wait_on(self, kind, c, arg, t, MAX_STEPS))
  end
  return self:_await(general(c, arg), t)
end

--- Waits for whichever of several waits is satisfied first, and returns its
-- name and results; the others are dropped (nothing of theirs lingers: they
-- are only checks on the virtual clock). branches: name -> a wait made by
-- c:waiting(state), c:receiving(n), c:sending_all(data), c:draining(),
-- l:accepting(), net:expecting(pattern), a:joining() or net:after(seconds). A branch that fails (a connection closed instead)
-- wins with nil, message. t bounds the whole race.
-- @tparam table branches name -> a wait
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @return the winning branch's name, then its results
-- @usage local name, data = net:first { data = c:receiving(5), quiet = net:after(2) }
function Net:first(branches, t)
  if type(branches) ~= "table" then argerror(1, "first", "table of waits expected") end
  local names = {}
  for name, w in pairs(branches) do
    if type(w) ~= "table" or not w.synfin_waitable then
      argerror(1, "first", ("'%s' is not a wait (use c:waiting, net:expecting, net:after ...)"):format(tostring(name)))
    end
    names[#names + 1] = name
  end
  table.sort(names, function(x, y) return tostring(x) < tostring(y) end)
  local checks, whats = {}, {}
  local soonest
  for i, name in ipairs(names) do
    local check, _, deadline = branches[name].start()
    checks[i] = check
    whats[i] = branches[name]
    if deadline and (not soonest or deadline < soonest) then soonest = deadline end
  end
  t = t or self.timeout
  if soonest then t = math.min(t, math.max(0, (soonest - self.sim:now()) / 1e6)) end
  local function what()
    for i, name in ipairs(names) do whats[i] = tostring(name) .. ": " .. what_of(whats[i]) end
    return "the first of { " .. table.concat(whats, "; ") .. " }"
  end
  return self:_block(what, t, function()
    for i, name in ipairs(names) do
      local r = table.pack(checks[i]())
      if r[1] then return true, name, table.unpack(r, 2, r.n) end
      if r[1] == nil then return true, name, nil, r[2] end
    end
    return false
  end, nil, nil, nil, soonest)
end

--- A wait satisfied once t seconds have passed (for net:first).
-- @tparam number t seconds
-- @return a wait
function Net:after(t)
  check_time_arg(t, 1, "after")
  return waitable(self, ("%g s"):format(t), function()
    local deadline = self.sim:now() + us(t)
    return function()
      -- the time has come, and everything due by then has happened
      local next_event = self.sim:next_time()
      return self.sim:now() >= deadline and (next_event == nil or next_event > deadline)
    end, nil, deadline, "never"
  end)
end


--- Lets t seconds of virtual time pass.
-- @tparam number t seconds
function Net:sleep(t)
  return self:_await(self:after(t))
end

scheduler.waitable = waitable

return scheduler
