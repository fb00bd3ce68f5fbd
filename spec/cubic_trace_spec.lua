-- CUBIC (RFC 9438) checked exactly on the sim: a scripted peer ACKs every
-- segment one RTT after it left, and the sender's window after each ACK
-- must be what RFC 9438's formulas, computed here, give: W_max and
-- cwnd_prior at the loss (§4.6, fast convergence §4.7), K (§4.2, (2)), the
-- cubic W_cubic(t) = C*(t - K)^3 + W_max (1), the target one RTT ahead,
-- the Reno-friendly estimate W_est (§4.3, (4)), beta 0.7, C 0.4; and the
-- exact segment trace of a short loss episode. On both families.
local families = require "helpers.families"

local C, BETA = 0.4, 0.7

-- RFC 9438 as the spec reads it, windows in segments, times in seconds;
-- `m` carries the state between ACKs
local model = {}

-- §4.6, §4.7: a loss (the third duplicate ACK) at a window of cwnd bytes
function model.loss(m, cwnd, smss)
  local w = cwnd / smss
  m.cwnd_prior = w
  m.w_max = (m.w_max and w < m.w_max) and w * (1 + BETA) / 2 or w -- §4.7 fast convergence
  m.t_epoch = nil
  if m.cwnd_prior ~= m.w_max then m.fast_convergences = (m.fast_convergences or 0) + 1 end
  local ssthresh = cwnd * 7 // 10 -- beta (0.7) times the window, as Linux
  return math.max(ssthresh, 2 * smss)
end

-- §4.2-§4.5: the window (bytes) after an ACK of `acked` bytes in
-- congestion avoidance, at time now_us, with the smoothed RTT srtt (s)
function model.ack(m, cwnd_bytes, acked, now_us, srtt, smss)
  local cwnd = cwnd_bytes / smss
  if not m.t_epoch then
    -- §4.2: the stage begins; K = cbrt((W_max - cwnd_epoch) / C), (2)
    m.t_epoch, m.w_est = now_us, cwnd
    m.w_max = math.max(m.w_max or 0, cwnd)
    m.k = ((m.w_max - cwnd) / C) ^ (1 / 3)
  end
  local function w_cubic(t)
    local d = t - m.k
    return C * d * d * d + m.w_max -- (1)
  end
  local t = (now_us - m.t_epoch) / 1e6
  -- §4.2: the target, W_cubic one RTT ahead, within [cwnd, 1.5 cwnd]
  local target = math.min(math.max(w_cubic(t + srtt), cwnd), 1.5 * cwnd)
  -- §4.3 (4): alpha = 3 (1 - beta) / (1 + beta) until W_est reaches cwnd_prior, then 1
  local alpha = m.w_est >= (m.cwnd_prior or 0) and 1 or 3 * (1 - BETA) / (1 + BETA)
  m.w_est = m.w_est + alpha * (acked / smss) / cwnd
  local next, region
  if w_cubic(t) < m.w_est then
    next, region = m.w_est, "Reno-friendly" -- §4.3
  else
    -- §4.4 (concave, below W_max), §4.5 (convex, past it): (target - cwnd)/cwnd per segment acked
    next, region = cwnd + (target - cwnd) / cwnd * (acked / smss), t < m.k and "concave" or "convex"
  end
  m.regions[region] = (m.regions[region] or 0) + 1
  return math.max(math.floor(next * smss), cwnd_bytes), region
end

families.describe("CUBIC exactly (RFC 9438)", function(f)
  local fixture = f.fixture.with_timing("rfc6298").with_window "rfc"
  local MSS = f.mss -- the peer's SYN has no timestamps: the whole MSS is payload

  local function connect(iw)
    local t = fixture.at_state("ESTABLISHED", {
      settings = { congestion_control = "cubic", initial_window = iw, snd_buf = 4 << 20 },
    })
    return t
  end

  it("a short loss episode: limited transmit, fast retransmit, recovery's end, segment by segment", function()
    local t = connect(4)
    local first = #t.net:records() + 1
    t.c:send(("x"):rep(10 * MSS))
    t.net:sleep(0)
    for _ = 1, 3 do t:send { ack = 1 } end -- the first segment was lost
    t:sleep(0.1)
    t:send { ack = 1 + 6 * MSS } -- the retransmission came: all six
    t:sleep(0.1)
    t:send { ack = 1 + 8 * MSS }
    t:sleep(0.1)
    t:send { ack = 1 + 10 * MSS }
    local lines = {}
    local recs = t.net:records()
    for i = first, #recs do
      local r = recs[i]
      if require("synfin").on_wire(r) then
        lines[#lines + 1] = ("%s %s seq=%d ack=%d len=%d"):format(r.from == t.us.index and "->" or "<-", r.flags, r.seq, r.ack, r.len)
      elseif r.kind == "note" and r.code and r.code:match("^cc_") then
        lines[#lines + 1] = r.code .. ": " .. r.text
      end
    end
    -- ssthresh = 0.7 * 4 segments (§4.6); cwnd = ssthresh + 3 SMSS in recovery (RFC 5681 §3.2);
    -- its end: min(ssthresh, max(FlightSize, SMSS) + SMSS) = 2 SMSS (RFC 6582 §3.2 (3))
    local ssthresh = 4 * MSS * 7 // 10
    local function seg(n, flags) return ("-> %s seq=%d ack=1 len=%d"):format(flags or "A", 1 + n * MSS, MSS) end
    local function ack(n) return ("<- A seq=1 ack=%d len=0"):format(1 + n * MSS) end
    assert.same({
      seg(0), seg(1), seg(2), seg(3), -- the initial window: 4 segments, the first lost
      ack(0), seg(4), -- RFC 3042 (Limited Transmit): a new segment on each of the first two duplicates
      ack(0), seg(5),
      ack(0), -- the third: fast retransmit
      ("cc_fast_retransmit: fast retransmit: the window cut: cwnd %d, ssthresh %d"):format(ssthresh + 3 * MSS, ssthresh),
      seg(0),
      ack(6), -- all six acknowledged: recovery is over, nothing in flight
      ("cc_recovered: recovery over: the window deflated: cwnd %d, ssthresh %d"):format(2 * MSS, ssthresh),
      seg(6), seg(7),
      ack(8), seg(8), seg(9, "PA"), -- slow start again below ssthresh: two more
      ack(10),
    }, lines)
  end)

  -- Rounds of one RTT: the peer ACKs every segment that left in the last
  -- round, one ACK a segment (the first of the round lost when `lose`), and
  -- each ACK's window is checked against the model.
  local function scenario(rtt, plan)
    local t = connect(10)
    local m = { regions = {} }
    local high, ssthresh = 1, math.huge -- the highest sequence sent (relative), the model's ssthresh
    local recover, dupacks = nil, 0
    t.c:send(("x"):rep(3 << 20))
    t.net:sleep(0)
    local function peer_ack(ack, dup)
      local before = t.c:info()
      high = math.max(high, t:our_nxt())
      local now_us = math.floor(t.net:now() * 1e6 + 0.5)
      t:send { ack = ack }
      local cwnd = t.c:info().cwnd
      local expected
      if dup then
        dupacks = dupacks + 1
        if dupacks == 3 then
          ssthresh = model.loss(m, before.cwnd, MSS)
          recover, expected = high, ssthresh + 3 * MSS
        elseif dupacks > 3 then
          expected = before.cwnd + MSS -- RFC 5681 §3.2 (4): inflation
        else
          expected = before.cwnd
        end
      else
        dupacks = 0
        local acked = ack - ((before.snd_una - before.iss) % 4294967296)
        if recover then -- the full ACK (the rounds never ACK partly)
          assert.is_true(ack >= recover)
          local flight = high - ack
          expected, recover = math.min(ssthresh, math.max(flight, MSS) + MSS), nil
        elseif before.cwnd < ssthresh then
          expected = before.cwnd + math.min(acked, MSS) -- slow start
        else
          expected = model.ack(m, before.cwnd, acked, now_us, before.srtt, MSS)
        end
      end
      assert.equal(expected, cwnd, ("at %.3f s, ACK %d%s"):format(t.net:now(), ack, dup and " (duplicate)" or ""))
      assert.equal(ssthresh == math.huge and 4294967295 or ssthresh, t.c:info().ssthresh)
    end
    for _, step in ipairs(plan) do
      t:sleep(rtt)
      local una = (t.c:info().snd_una - t.c:info().iss) % 4294967296
      local nxt = t:our_nxt()
      if step == "lose" then
        for _ = una + MSS, nxt - MSS, MSS do peer_ack(una, true) end
      else
        local from = recover or una + MSS
        for ack = from, nxt, MSS do peer_ack(ack) end
      end
    end
    return m, t
  end

  -- "ack" n times
  local function acks(n, list)
    list = list or {}
    for _ = 1, n do list[#list + 1] = "ack" end
    return list
  end

  it("every ACK after a loss at RTT 0.1 s: concave, then the Reno-friendly region; a second loss converges fast", function()
    local plan = acks(1) -- slow start, 10 segments to 20
    plan[#plan + 1] = "lose" -- W_max = 20
    acks(4, plan)
    plan[#plan + 1] = "lose" -- below W_max: §4.7, W_max = cwnd * (1 + beta) / 2
    acks(12, plan)
    local m = scenario(0.1, plan)
    -- (each ACK's window was checked in scenario; these say the run went where its title says)
    assert.is_true(m.regions.concave > 0 and m.regions["Reno-friendly"] > 0)
    assert.equal(1, m.fast_convergences)
    assert.is_true(m.w_max < m.cwnd_prior)
  end)

  it("every ACK after a loss at RTT 0.5 s: concave up to W_max, then convex past it", function()
    local plan = acks(1)
    plan[#plan + 1] = "lose"
    acks(12, plan)
    local m, t = scenario(0.5, plan)
    assert.is_true(m.regions.concave > 0 and m.regions.convex > 0)
    assert.equal(20, m.w_max) -- the loss came at 20 segments
    assert.is_true(t.c:info().cwnd > 1.5 * m.w_max * MSS) -- well past it
  end)
end)
