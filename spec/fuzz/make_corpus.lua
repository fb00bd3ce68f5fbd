-- make_corpus.lua - writes the seed corpora of spec/fuzz (corpus/<target>/):
-- a few valid packets for fuzz_wire, a few programs for fuzz_stack and
-- fuzz_lua that reach the states a fuzzer would take long to find alone
-- (a handshake, data both ways, a close, a simultaneous open, a crafted
-- peer, hooks). The op numbers are those of fuzz_stack.c's enum and of
-- fuzz_lua.lua's table of ops: change them together.
--   lua5.4 spec/fuzz/make_corpus.lua   (from the top of the tree)

local dir = "spec/fuzz/corpus/"

local function write(target, name, bytes)
  os.execute("mkdir -p " .. dir .. target)
  local f = assert(io.open(dir .. target .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
end

local function bytes(t)
  local out = {}
  for _, v in ipairs(t) do
    if type(v) == "string" then out[#out + 1] = v else out[#out + 1] = string.char(v) end
  end
  return table.concat(out)
end

------------------------------------------------------------------------------
-- fuzz_wire: the first byte 7 asks the target to mend the IPv4 total length
-- and both checksums, so the packets are written with zeros there.

local function ipv4(proto, body, opts)
  opts = opts or ""
  local ihl = (20 + #opts) // 4
  return string.pack(">BBI2I2I2BBI2I4I4", 0x40 | ihl, 0, 0, 0, 0x4000, 64, proto, 0,
    0x0a000001, 0x0a000002) .. opts .. body
end

local function tcp(flags, options, payload, seq, ack)
  options = options or ""
  assert(#options % 4 == 0)
  local doff = (20 + #options) // 4
  return string.pack(">I2I2I4I4BBI2I2I2", 49152, 80, seq or 1000, ack or 0, doff << 4, flags,
    65535, 0, 0) .. options .. (payload or "")
end

local MSS = "\2\4\5\180"
local SACKP = "\1\1\4\2"
local TS = "\1\1\8\10" .. string.pack(">I4I4", 12345, 0)
local WS = "\1\3\3\7"
local function sack(blocks)
  local s = "\1\1\5" .. string.char(2 + 8 * #blocks)
  for _, b in ipairs(blocks) do s = s .. string.pack(">I4I4", b[1], b[2]) end
  return s
end

local wire = {
  syn = ipv4(6, tcp(0x02, MSS .. SACKP .. TS .. WS)),
  syn_ack = ipv4(6, tcp(0x12, MSS .. SACKP .. TS .. WS, nil, 5000, 1001)),
  syn_tight_options = ipv4(6, tcp(0x02, MSS .. "\4\2\8\10" .. string.pack(">I4I4", 1, 2) .. "\3\3\14\0")),
  ack_sack = ipv4(6, tcp(0x10, TS .. sack({ { 2000, 3000 }, { 4000, 5000 }, { 6000, 7000 } }), nil, 1001, 5001)),
  data = ipv4(6, tcp(0x18, TS, string.rep("x", 100), 1001, 5001)),
  fin = ipv4(6, tcp(0x11, nil, nil, 1101, 5001)),
  rst = ipv4(6, tcp(0x04, nil, nil, 1101, 0)),
  ip_options = ipv4(6, tcp(0x02, MSS), "\1\1\1\0"),
  bad_option_length = ipv4(6, tcp(0x02, "\2\1\0\0")),
  icmp_needfrag = ipv4(1, string.pack(">BBI2I2I2", 3, 4, 0, 0, 576) ..
    ipv4(6, tcp(0x18, nil, nil, 1001, 5001)):sub(1, 28)),
}
for name, pkt in pairs(wire) do write("fuzz_wire", name, "\7" .. pkt) end

-- IPv6 (RFC 8200): written whole, checksums right (the first byte 0: no
-- mending, which knows IPv4's fields only), so that the fuzzer starts inside
-- the IPv6 parser: its extension headers, fragments, ICMPv6.
local SRC6 = string.pack(">I4I4I4I4", 0x20010db8, 0, 0, 1)
local DST6 = string.pack(">I4I4I4I4", 0x20010db8, 0, 0, 2)
local function sum16(s)
  if #s % 2 == 1 then s = s .. "\0" end
  local sum = 0
  for i = 1, #s, 2 do sum = sum + string.unpack(">I2", s, i) end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return sum
end
-- upper: the TCP or ICMPv6 bytes, their checksum at offset at (1-based), 0 there
local function ipv6(proto, upper, at, ext)
  ext = ext or ""
  local pseudo = SRC6 .. DST6 .. string.pack(">I4I4", #upper, proto)
  local c = (~sum16(pseudo .. upper)) & 0xffff
  upper = upper:sub(1, at - 1) .. string.pack(">I2", c) .. upper:sub(at + 2)
  local nh = #ext > 0 and ext:byte(-1) or proto -- (ext ends with the next header it replaces)
  if #ext > 0 then ext = ext:sub(1, -2) end
  return string.pack(">I4I2BB", 0x60000000, #ext + #upper, nh, 64) .. SRC6 .. DST6 .. ext .. upper
end
local wire6 = {
  syn6 = ipv6(6, tcp(0x02, MSS .. SACKP .. TS .. WS), 17),
  data6_dest_opts = ipv6(6, tcp(0x18, TS, string.rep("x", 100), 1001, 5001), 17,
    "\6\0\1\4\0\0\0\0" .. "\60"),
  syn6_fragment = ipv6(6, tcp(0x02, MSS), 17, "\6\0\0\0\0\0\0\1" .. "\44"),
  icmp6_too_big = ipv6(58, string.pack(">BBI2I4", 2, 0, 0, 1280)
    .. ipv6(6, tcp(0x18, nil, nil, 1001, 5001), 17):sub(1, 48), 3),
}
for name, pkt in pairs(wire6) do write("fuzz_wire", name, "\0" .. pkt) end

------------------------------------------------------------------------------
-- fuzz_stack: six bytes of configuration (three a host), then ops.

local CONNECT, LISTEN, ACCEPT, SEND, RECV, CLOSE = 0, 1, 2, 4, 5, 6
local DELIVER_ALL, DROP, CRAFT, TICK = 13, 14, 18, 21 -- (12: deliver one, unused here)
local defaults = { 0, 0, 0, 0, 0, 0 }
local NEXT_DEADLINE = 0xc0 -- tick: to the next deadline

local function program(config, ops)
  local t = {}
  for _, v in ipairs(config) do t[#t + 1] = v end
  for _, op in ipairs(ops) do for _, v in ipairs(op) do t[#t + 1] = v end end
  return bytes(t)
end

-- B listens on 80, A connects, the handshake, then A sends 1000 bytes
local handshake = {
  { LISTEN, 1, 0, 0 }, { CONNECT, 0, 0x01, 0 },
  { DELIVER_ALL }, { DELIVER_ALL }, { DELIVER_ALL }, { ACCEPT, 1, 0, 0 },
}
local function with(...)
  local t = {}
  for _, part in ipairs({ ... }) do for _, op in ipairs(part) do t[#t + 1] = op end end
  return t
end

write("fuzz_stack", "handshake_close", program(defaults, with(handshake, {
  { SEND, 0, 0, 0, 0x03, 0xe8 }, { DELIVER_ALL }, { DELIVER_ALL }, { RECV, 1, 1, 0x10, 0 },
  { CLOSE, 0, 0 }, { DELIVER_ALL }, { CLOSE, 1, 1 }, { DELIVER_ALL }, { DELIVER_ALL },
  { TICK, NEXT_DEADLINE }, { TICK, NEXT_DEADLINE } })))

-- both ways, bulk, with a loss repaired by fast retransmit or the RTO
write("fuzz_stack", "bulk_with_loss", program({ 0, 0x02, 0, 0, 0x02, 0 }, with(handshake, {
  { SEND, 0, 0, 1, 0xff, 0xff }, { DROP, 1 }, { DELIVER_ALL }, { DELIVER_ALL }, { DELIVER_ALL },
  { SEND, 1, 1, 0, 0x07, 0xd0 }, { DELIVER_ALL }, { DELIVER_ALL },
  { RECV, 1, 1, 0xff, 0xff }, { RECV, 0, 0, 0xff, 0xff },
  { TICK, NEXT_DEADLINE }, { DELIVER_ALL }, { DELIVER_ALL }, { DELIVER_ALL },
  { RECV, 1, 1, 0xff, 0xff } })))

-- both connect to each other's port at once: SYN_SENT -> SYN_RCVD -> ESTABLISHED
write("fuzz_stack", "simultaneous_open", program(defaults, {
  { CONNECT, 0, 0x5d, 0 }, { CONNECT, 1, 0x79, 0 },
  { DELIVER_ALL }, { DELIVER_ALL }, { DELIVER_ALL }, { TICK, NEXT_DEADLINE }, { DELIVER_ALL } }))

-- the fuzzer as a peer from 10.0.0.3: a SYN with every option to B's
-- listener, the ACK of its SYN-ACK with 100 bytes, then a FIN
write("fuzz_stack", "crafted_peer", program(defaults, {
  { LISTEN, 1, 0, 0 },
  { CRAFT, 1, 0, 0, 0, 0x0f, 0x01, 0, 0, 0x10, 0, 0, 0, 0, 0, 0xa0, 0x05, 0xb4, 7, 0, 0, 0, 1 },
  { CRAFT, 1, 0, 2, 0, 0x48, 0, 1, 0xa0, 0, 0, 100 },
  { ACCEPT, 1, 0, 0 }, { RECV, 1, 1, 0x10, 0 },
  { CRAFT, 1, 0, 4, 0, 0x08, 0, 0, 0xa0, 0 },
  { CLOSE, 1, 1 }, { TICK, NEXT_DEADLINE }, { TICK, NEXT_DEADLINE } }))

-- a small receive buffer: a zero window, probes, then the window opens
write("fuzz_stack", "zero_window", program({ 0, 0x02, 0, 0, 0x0a, 0 }, with(handshake, {
  { SEND, 0, 0, 1, 0x30, 0x00 }, { DELIVER_ALL }, { DELIVER_ALL }, { DELIVER_ALL },
  { TICK, NEXT_DEADLINE }, { DELIVER_ALL }, { DELIVER_ALL }, { TICK, NEXT_DEADLINE },
  { RECV, 1, 1, 0x0f, 0xff }, { DELIVER_ALL }, { DELIVER_ALL }, { DELIVER_ALL } })))

------------------------------------------------------------------------------
-- fuzz_lua: op numbers are places in fuzz_lua.lua's `ops`, from 0.

local NET, LISTEN_L, CONNECT_L, RUN, SEND_L, READ, CLOSE_L, ACCEPT_L = 0, 3, 4, 6, 7, 8, 9, 15
local HOOK, MISC, GC, ANY, SCENARIO, S_LISTEN, S_CONNECT, S_STEP, S_CLOSE = 19, 22, 27, 30, 31, 32, 33, 34, 36
local NOTHING = { 0, 0, 0, 0, 0, 0, 0 } -- number(): u16, u32, then the pick

local function lua_program(ops)
  local t = {}
  for _, op in ipairs(ops) do for _, v in ipairs(op) do t[#t + 1] = v end end
  return bytes(t)
end
local lua_handshake = {
  { NET, 0, 1, 0, 0, 0, 0 },
  { LISTEN_L, 0, 2, 0, table.unpack(NOTHING) }, { 0 },
  { CONNECT_L, 0, 1, 1, 0, 0, 0 },
  { RUN, 0 }, { ACCEPT_L, 0 },
}
write("fuzz_lua", "handshake_data_close", lua_program(with(lua_handshake, {
  { SEND_L, 1, 0x41, 4, 0 }, { RUN, 0 }, { READ, 2, 2 },
  { CLOSE_L, 1 }, { RUN, 0 }, { CLOSE_L, 2 }, { RUN, 0 }, { MISC, 0, 1, 0, 1, 0 }, { GC, 0 } })))

-- a hook that drops the first SYN, one that replaces what it sees and runs
-- an op (a collection) from inside the sim
write("fuzz_lua", "hooks", lua_program({
  { NET, 0, 1, 0, 0, 0, 0 },
  { HOOK, 0, 0, 0, 0, 1, 1, 2, 0 },
  { HOOK, 0, 0, 0, 0, 2, 1, 5, 1 },
  { LISTEN_L, 0, 2, 0, table.unpack(NOTHING) }, { 0 },
  { CONNECT_L, 0, 1, 1, 0, 0, 0 },
  { RUN, 0 }, { GC, 0 }, { RUN, 0 }, { ANY, 0, 0, 0, 0 } }))

-- the scenario layer: synfin.sim, net:host, host:listen, host:connect, net:step
write("fuzz_lua", "scenario", lua_program({
  { SCENARIO, 1, 1, 0, 0, 0 }, { S_LISTEN, 1, 0, 0 }, { S_CONNECT, 0, 1, 0, 0 },
  { S_STEP, 0, 2 }, { S_CLOSE, 0 } }))
