--- Small readers over a fixture's trace for the state-machine specs
-- (closed_listen, syn_sent, syn_rcvd, established, closing_states,
-- user_calls): the states a connection went through, the protocol's
-- explanations (drop notes), and our segments.
--
--   local sm = require "helpers.state_machine"
--   assert.same({ "FIN_WAIT_1", "TIME_WAIT" }, sm.states(t, t.c, "FIN_WAIT_1"))
local sm = {}

--- The state records of connection c (a conn userdata) on our host, in order.
function sm.transitions(t, c)
  local host, id = c:host(), c:id()
  local list = {}
  for _, r in ipairs(t.net:records()) do
    if r.kind == "state" and r.host == host and r.conn == id then list[#list + 1] = r end
  end
  return list
end

--- The states connection c entered, in order; with `since`, only from the
-- last time it entered that state on (the list starts with `since`).
function sm.states(t, c, since)
  local list = {}
  for _, r in ipairs(sm.transitions(t, c)) do
    if since and r.new == since then list = {} end
    list[#list + 1] = r.new
  end
  return list
end

--- The record of connection c's last entry into `state`, or nil.
function sm.entered(t, c, state)
  local found
  for _, r in ipairs(sm.transitions(t, c)) do
    if r.new == state then found = r end
  end
  return found
end

--- The last state-change record of our host's connections (listeners left
-- out), or nil: how the last one ended, and why.
function sm.last_state(t)
  local last
  for _, r in ipairs(t.net:records()) do
    if r.kind == "state" and r.host == t.us.index and r.rport ~= 0 then last = r end
  end
  return last
end

--- The texts of the notes (the protocol's explanations of drops) on our
-- host, from record index `from` (default 1) on.
function sm.notes(t, from)
  local list = {}
  local recs = t.net:records()
  for i = from or 1, #recs do
    local r = recs[i]
    if r.kind == "note" and r.host == t.us.index then list[#list + 1] = r.text end
  end
  return list
end

--- True if one of our notes (from record index `from` on) contains `text`.
function sm.noted(t, text, from)
  for _, s in ipairs(sm.notes(t, from)) do
    if s:find(text, 1, true) then return true end
  end
  return false
end

--- The reason codes of the protocol's notes on our host (record index
-- `from` on), in order: { "paws", "ooo_held", ... }.
function sm.codes(t, from)
  local list = {}
  local recs = t.net:records()
  for i = from or 1, #recs do
    local r = recs[i]
    if r.kind == "note" and r.host == t.us.index and r.code then list[#list + 1] = r.code end
  end
  return list
end

--- The number of records so far: a mark for sm.notes / sm.ours.
function sm.mark(t)
  return #t.net:records() + 1
end

--- Our segments on the wire (records), from record index `from` on.
function sm.ours(t, from)
  local list = {}
  local recs = t.net:records()
  for i = from or 1, #recs do
    local r = recs[i]
    if r.kind == "seg" and r.from == t.us.index and r.fate ~= "dropped_egress" then list[#list + 1] = r end
  end
  return list
end

--- The connection on our host with the peer's port sport (default the
-- fixture's), or nil; a listener is not returned.
function sm.child(t, sport)
  local fixture = require "synfin.fixture"
  local c = t.net.sim:lookup(t.us.index, t.them.addr, sport or fixture.SPORT, fixture.PORT)
  if c and c:info().rport ~= 0 then return c end
  return nil
end

return sm
