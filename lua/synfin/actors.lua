--- synfin.actors: scenarios: net:run, net:start and net:step run one,
-- net:spawn adds actors to it (coroutines on the same clock), each with its
-- expectation cursor; and how a run ends (its failures, strict leftovers,
-- expect_all).
-- @module synfin
local types = require "synfin.types"
local scheduler = require "synfin.scheduler"
local util = require "synfin.util"
local where, raise, argerror, shown, us = util.where, util.raise, util.argerror, util.shown, util.us
local check_opts, check_time_arg = util.check_opts, util.check_time_arg
local check_time_limit, check_expect_all = util.check_time_limit, util.check_expect_all
local Net, Actor, waitable, MAX_STEPS = types.Net, types.Actor, scheduler.waitable, scheduler.MAX_STEPS

--- The net (continued).
-- @type Net


-- A new actor of the running scenario: fn(...) in a coroutine of its own,
-- started (fresh) at the next round of net:_advance, at the same instant.
local function new_actor(net, fn, args, name)
  local sc = net.scenario
  local a = setmetatable({ net = net, id = #sc.actors + 1, fresh = true, args = args, cursor = 1 }, Actor)
  a.name = name or ("the actor spawned at %s"):format((where():gsub(": $", "")))
  a.co = coroutine.create(function(...)
    net:_resumed(a) -- its first resumption: what came before is its past
    return fn(...)
  end)
  sc.actors[#sc.actors + 1] = a
  sc.live = sc.live + 1
  return a
end

-- Makes fn the net's scenario: the first actor of a new run.
local function begin(net, fn, opts, fname)
  if type(fn) ~= "function" then argerror(1, fname, "function expected") end
  opts = check_opts(opts, { strict = true, time_limit = true, expect_all = true }, 2, fname)
  if opts.time_limit ~= nil then check_time_limit(opts.time_limit, 2, fname) end
  if net.scenario then raise("a scenario is already running on this net") end
  local strict = opts.strict
  if strict == nil then strict = net.strict end
  local expect_all = opts.expect_all
  if expect_all == nil then expect_all = net.expect_all end
  if expect_all ~= nil then check_expect_all(expect_all, 2, fname) end
  local limit = opts.time_limit
  if limit == nil then limit = net.time_limit end
  net.sim:set_time_limit(limit or false)
  net:_sync()
  net.scenario = { strict = strict, expect_all = expect_all or nil, first = #net.recs + 1, actors = {},
    live = 0 } -- (actors not finished)
  new_actor(net, fn, table.pack(net), "the scenario")
end

-- The error an actor failed with, as net:run raises it: a message gets the
-- actor's traceback and the last lines of the ladder (unless it has them);
-- an error object (luassert's, under busted: a failure, not an error)
-- stays the same object, the ladder added to its message.
function Net:_failed(a, err)
  local tail = #self:records() > 0 and ("\nlast lines of the trace:\n" .. self:_tail()) or ""
  local in_actor = a.id > 1 and ("\n(in %s)"):format(a.name) or ""
  if type(err) == "string" or type(err) == "number" then
    err = tostring(err)
    if not err:find("\nlast lines of the trace:\n", 1, true) then err = err .. tail end
    return debug.traceback(a.co, err .. in_actor)
  end
  if type(err) == "table" and type(err.message) == "string" then
    if not err.message:find("\nlast lines of the trace:\n", 1, true) then
      err.message = err.message .. in_actor .. tail
    end
  end
  return err
end

-- Resumes actor a with what its wait gave, until it waits again or ends;
-- an error in it ends the run, raised.
function Net:_resume(a, ...)
  self.scenario.current = a
  return self:_stopped(a, self.sim:resume(a.co, ...))
end

-- Actor a has stopped: ok and what it yielded (its wait) or returned, or
-- false and its error, as coroutine.resume gives them.
function Net:_stopped(a, ok, ...)
  if not ok then return self:_finish(self:_failed(a, (...))) end
  if coroutine.status(a.co) == "dead" then
    a.done, a.wait = true, nil
    self.scenario.live = self.scenario.live - 1
    a.results = table.pack(...)
    return
  end
  local w = ...
  if type(w) ~= "table" or not w.synfin_wait then
    return self:_finish(a.name .. " yielded something that is not a synfin wait")
  end
  a.wait, w.actor = w, a
end

-- The run has ended: the failure of an actor, of a hook or a callback, its
-- leftovers when strict, or segments nobody expected under expect_all, are
-- raised.
function Net:_finish(err)
  local sc = self.scenario
  self.scenario = nil
  self.sim:set_time_limit(false)
  self:_resumed(self.outside)
  if err ~= nil then error(err, 0) end
  self:_sync()
  local bad = self:_failure() or self:_dispatch()
  if bad then error(bad, 0) end
  if sc.strict then
    local left = self:leftovers()
    if #left > 0 then error("the scenario left behind:\n  " .. table.concat(left, "\n  "), 0) end
  end
  if sc.expect_all then
    local missed = self:_unexpected(sc)
    if #missed > 0 then
      error(("synfin: expect_all: %d segment%s on the wire that no expectation consumed:\n  %s\nlast lines of the trace:\n%s")
        :format(#missed, #missed > 1 and "s" or "", table.concat(missed, "\n  "), self:_tail()), 0)
    end
  end
  return false
end

-- Runs the actors: those spawned since the last round start, then the clock
-- is driven until a wait is settled and its actor resumes, and so on until
-- every actor has finished (false), or, with a budget, until the waits are
-- pending at it (true); budget false: only the start (net:start).
function Net:_advance(budget)
  local sc = self.scenario
  sc.run = budget == nil -- (net:run: an actor alone may run the clock itself, see Net:_block)
  while true do
    for _, a in ipairs(sc.actors) do
      if a.fresh then
        a.fresh = false
        self:_resume(a, table.unpack(a.args, 1, a.args.n))
      end
    end
    local waits = {}
    for _, a in ipairs(sc.actors) do
      if a.wait then waits[#waits + 1] = a.wait end
    end
    if #waits == 0 then return self:_finish() end
    if budget == false then return true end
    if self:_wake(self:_drive(waits, budget)) then return true end -- pending at the budget
  end
end

-- The wait w is settled (kind and its results, as Net:_drive gives them):
-- its actor resumes with them. No wait: the waits are pending at the
-- budget (true).
function Net:_wake(w, ...)
  if not w then return true end
  local a = w.actor
  a.wait = nil
  self:_resume(a, ...)
end

--- Runs fn(net) as the scenario, on the net's clock; returns the net when
-- fn, and every actor it spawned (net:spawn), have finished. An error in
-- any of them, a failed wait or a failed hook is raised with its traceback
-- and the last lines of the ladder; a luassert failure stays the same
-- object (busted reports a failure, not an error). opts.strict (or the
-- net's strict setting): leftovers (net:leftovers()) are an error too.
-- opts.`expect_all` (or the net's), the strict mode for segments, as
-- packetdrill's: every segment on the wire of this run that matches it (a
-- pattern, or true for all) must have been consumed by an expectation
-- (net:expect, net:expect_at, a net:expecting that won), else the run
-- fails naming them. opts.`time_limit` (or the net's): seconds of
-- wall-clock time the whole run may take (see synfin.sim).
-- net:start and net:step do the same a step at a time, for a program with a
-- loop of its own.
-- @tparam function fn the scenario, called with the net
-- @tparam[opt] table opts strict, `expect_all`, `time_limit`
-- @treturn Net
-- @usage net:run(function() ... end, { expect_all = { from = b } })
function Net:run(fn, opts)
  begin(self, fn, opts, "run")
  self:_advance(nil)
  return self
end

--- Starts fn(net) as the scenario without waiting for it to finish: it
-- runs until its first wait, and net:step runs it on. For a program with
-- a loop of its own (luv, cqueues, a poll loop) that drives a real-time
-- net: poll net:fd() for reading, with net:next_timeout() as the timeout,
-- and call net:step() when either fires, until it returns false.
-- @tparam function fn the scenario, called with the net
-- @tparam[opt] table opts strict, `expect_all`, `time_limit` (as for net:run)
-- @treturn boolean true while the scenario runs, false when it has finished already
-- @raise the scenario's failure, as net:run raises it
-- @usage net:start(function() local c = host:connect("10.73.0.1", 80) ... end)
function Net:start(fn, opts)
  begin(self, fn, opts, "start")
  return self:_advance(false)
end

--- Lets the net run for at most t seconds (default 0: only what is there
-- or due now, without waiting), then returns. On a real-time net it reads
-- what has arrived on the device and runs the timers that are due; on a
-- sim it moves the virtual clock on by t at most. A scenario started with
-- net:start goes on as far as that lets it.
-- @tparam[opt] number t seconds (>= 0)
-- @treturn boolean true while the scenario started with net:start runs;
-- false when it has finished (or none was started)
-- @raise the scenario's failure (a failed wait, an error in it or in a hook),
-- when it fails in this step
-- @usage while net:step(0.1) do end
function Net:step(t)
  t = t or 0
  check_time_arg(t, 1, "step")
  local kind, running = self.sim:busy()
  if kind and kind ~= "scenario" then
    raise(("synfin: net:step inside %s: a callback runs to its end without moving the clock"):format(running))
  end
  if self:_actor() ~= self.outside then raise("net:step is called from inside the scenario") end
  local budget = self.sim:now() + us(t)
  if self.scenario then
    local going = self:_advance(budget)
    self:_resumed(self.outside)
    return going
  end
  local n = 0
  while n < MAX_STEPS and self.sim:step(budget) do n = n + 1 end
  self:_refresh()
  self:_resumed(self.outside)
  local bad = self:_failure() or self:_dispatch()
  if bad then error(bad, 0) end
  return false
end

--- The fd a program's loop polls for reading on behalf of a real-time net
-- (synfin.tun: the TUN device's; synfin.raw: the packet socket's); nil on
-- a sim, which needs no loop. When it is readable, call net:step().
-- @treturn integer|nil
function Net:fd() return self.sim:fd() end

--- Seconds until the net next needs a step: its next timer or delayed
-- segment, or the deadline of a wait of the scenario (net:start), whichever
-- comes first; 0 when something is due now; nil when nothing is pending
-- (then only the fd can wake it). On a sim, virtual seconds.
-- @treturn number|nil
function Net:next_timeout()
  local now = self.sim:now()
  local at
  local rt_ms = self.sim:timeout()
  if rt_ms then
    if rt_ms >= 0 then at = now + rt_ms * 1000 end
  else
    at = self.sim:next_time()
  end
  for _, a in ipairs(self.scenario and self.scenario.actors or {}) do
    local w = a.wait
    if w then
      local due = w.deadline
      if w.wake and w.wake < due and w.wake > now then due = w.wake end
      if not at or due < at then at = due end
    end
  end
  local timer = self.timers[1]
  if timer and (not at or timer.at < at) then at = timer.at end
  if not at then return nil end
  return math.max(0, at - now) / 1e6
end

--- Adds an actor to the running scenario: fn(...) runs in a coroutine of
-- its own on the same clock, from the instant the calling actor next
-- waits, and may wait (c:recv, net:expect, net:sleep ...) while the others
-- do: a server sending a megabyte while the client reads it, without
-- interleaving them by hand. net:run returns once every actor has
-- finished; an error in any of them fails the run (with "in the actor
-- spawned at x.lua:12"). Each actor has its own expectation cursor (see
-- net:expect); a segment one actor's expectation consumed, no other's
-- matches. Only from inside the scenario (or another actor).
-- @tparam function fn the actor
-- @param ... its arguments
-- @treturn Actor its handle: a:join(t) waits for it to finish
-- @usage net:spawn(function() s:send_all(data); s:drain(5); s:close() end)
function Net:spawn(fn, ...)
  if type(fn) ~= "function" then argerror(1, "spawn", "function expected, got " .. shown(fn)) end
  local kind, running = self.sim:busy()
  if kind and kind ~= "scenario" then
    error(("%ssynfin: net:spawn inside %s: spawn actors from the scenario"):format(where(), running), 0)
  end
  if self:_actor() == self.outside then
    error(where() .. "synfin: net:spawn outside a scenario: actors share the scenario's clock, so spawn them"
      .. " inside net:run's function", 0)
  end
  return new_actor(self, fn, table.pack(...))
end

--- An actor: the handle net:spawn returns. Fields: done (true once it has
-- finished), results (what its function returned, packed), name.
-- @type Actor

--- Waits until the actor has finished, and returns what its function
-- returned.
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @return the actor's results
function Actor:join(t)
  return self.net:_await(self:joining(), t)
end

--- The wait of a:join, for net:first.
-- @return a wait
function Actor:joining()
  return waitable(self.net, self.name .. " to finish", function()
    if self.net:_actor() == self then
      error(where() .. "synfin: an actor cannot wait for itself to finish", 0)
    end
    return function()
      if self.done then return true, table.unpack(self.results, 1, self.results.n) end
      return false
    end, nil, nil, "never" -- (it ends only while Lua runs)
  end)
end

Actor.__tostring = function(a)
  return ("<actor %d %s: %s>"):format(a.id, a.name, a.done and "finished" or (a.wait and ("waiting for " .. scheduler.what_of(a.wait))) or "running")
end

return Actor
