--- synfin: a scriptable TCP state machine.
--
--     local synfin = require "synfin"
--     local net = synfin.sim{ seed = 7, latency = 0.005 }   -- seconds everywhere
--     local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
--     local l = b:listen(80)
--     net:run(function()
--       local c = a:connect("192.0.2.2", 80)
--       c:wait("ESTABLISHED", 1)
--       ...
--     end)
--     print(net:trace())
--
-- A scenario is a coroutine on the net's virtual clock (net:spawn adds
-- others, actors on the same clock): every blocking call (c:wait, c:recv,
-- l:accept, c:drain, net:expect, `net:expect_nothing`, net:sleep) yields
-- until its condition holds or its timeout passes, and a timeout raises an
-- error that says what was awaited, what happened instead, and the last
-- lines of the ladder. An expectation sees only what was sent after its
-- actor last resumed from another wait, or after its previous match (see
-- net:expect): it never passes on the past. net:run returns only when the
-- scenario is done, so it works in a plain busted `it` and under a stock
-- lua5.4. Outside net:run the same calls drive the clock directly. Nothing
-- is printed unless asked.
--
-- Sequence numbers in records, patterns, hooks and crafted segments are
-- relative to each side's ISN (as packetdrill and Wireshark show them);
-- `abs_seq` and `abs_ack` are the raw numbers.
-- @module synfin
-- @pragma nostrip

-- This module only assembles the table: each job has a module of its own
-- (lua/synfin/): types (the objects and this table), util (errors blamed on
-- the script's line, option checks, state names), net (nets and their
-- settings), records (the record of a run), host (hosts and peers),
-- segment (crafted segments), hooks, scheduler (the clock and its waits),
-- actors (scenarios), expect (expectations), trace (ladder, SVG, pcap),
-- conn (connections' blocking calls) and close (close policies).
local core = require "synfin.core"
local types = require "synfin.types"
local records = require "synfin.records"
require "synfin.net"
require "synfin.host"
require "synfin.hooks"
require "synfin.scheduler"
require "synfin.actors"
require "synfin.expect"
require "synfin.trace"
require "synfin.conn"
require "synfin.close"

local synfin = types.synfin

-- The test suite's transition coverage (SYNFIN_COVERAGE): an observer of
-- every net's state records.
local coverage = require "synfin.coverage"
if not coverage.off then table.insert(records.observers, coverage.record) end

--- The size in bytes of one connection's control block (C struct).
-- @function synfin.sizeof_conn
-- @treturn integer
synfin.sizeof_conn = core.sizeof_conn

return synfin
