-- synfin.pkt: packetdrill's script language, parsed (issue 16). Every
-- construct the runner knows, the ones it reports unsupported, and
-- malformed lines, whose errors name the file, line and column.
local pkt = require "synfin.pkt"

local function one(line)
  local events, err = pkt.parse(line, "t.pkt")
  assert(events, err)
  assert.equal(1, #events)
  return events[1]
end

local function fails(text, msg)
  local events, err = pkt.parse(text, "t.pkt")
  assert.is_nil(events)
  assert.equal(msg, err)
end

describe("synfin.pkt: packetdrill's scripts", function()
  describe("times", function()
    it("absolute, relative, ranges, blocking ends and *", function()
      assert.same({ kind = "abs", t = 0.1 }, one("0.1 close(4) = 0").time)
      assert.same({ kind = "rel", t = 0.1 }, one("+0.1 close(4) = 0").time)
      assert.same({ kind = "rel", t = 0 }, one("+0 close(4) = 0").time)
      assert.same({ kind = "rel", t = 0.5 }, one("+.5 close(4) = 0").time)
      assert.same({ kind = "abs", t = 0.1, hi = 0.2, hi_kind = "abs", blocking = false },
        one("0.1~0.2 > . 1:1(0) ack 1").time)
      assert.same({ kind = "rel", t = 0, hi = 0.2, hi_kind = "rel", blocking = false },
        one("+0~+0.2 > . 1:1(0) ack 1").time)
      assert.same({ kind = "abs", t = 0.1, hi = 0.3, hi_kind = "abs", blocking = true },
        one("0.1...0.3 read(4, ..., 10) = 10").time)
      assert.same({ kind = "any" }, one("* > F. 1:1(0) ack 1").time)
      assert.same({ kind = "abs", t = 0, hi = 0.1, hi_kind = "abs", blocking = true },
        one("0...0.1 connect(3, ..., ...) = 0").time)
    end)
  end)

  describe("packets", function()
    it("'-': a segment without any flag", function()
      local e = one("+.01 < - 1:1001(1000) win 20000")
      assert.same({ "packet", "<", "", 1, 1001, 1000 }, { e.kind, e.dir, e.flags, e.seq, e.seq_end, e.len })
    end)

    it("a SYN with options", function()
      local e = one("+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>")
      assert.equal("packet", e.kind)
      assert.equal("<", e.dir)
      assert.equal("S", e.flags)
      assert.equal(0, e.seq)
      assert.equal(0, e.seq_end)
      assert.equal(0, e.len)
      assert.is_nil(e.ack)
      assert.equal(32792, e.win)
      assert.same({ { kind = "mss", value = 1000 }, { kind = "sackOK" }, { kind = "nop" }, { kind = "nop" },
        { kind = "nop" }, { kind = "wscale", value = 7 } }, e.options)
      assert.equal(1, e.line)
      assert.equal(1, e.col)
    end)

    it("a SYN-ACK with the option wildcard", function()
      local e = one("+0 > S. 0:0(0) ack 1 <...>")
      assert.equal(">", e.dir)
      assert.equal("S.", e.flags)
      assert.equal(1, e.ack)
      assert.equal("any", e.options)
    end)

    it("ACKs, data, RSTs and FINs", function()
      local e = one("+.1 < . 1:1(0) ack 1 win 257")
      assert.same({ ".", 1, 1, 0, 1, 257 }, { e.flags, e.seq, e.seq_end, e.len, e.ack, e.win })
      e = one("+0 < P. 1:1001(1000) ack 1")
      assert.same({ "P.", 1, 1001, 1000, 1 }, { e.flags, e.seq, e.seq_end, e.len, e.ack })
      assert.is_nil(e.win)
      assert.is_nil(e.options) -- none written: the packet has none
      e = one("+0 < R. 1:1(0) ack 1 win 0")
      assert.same({ "R.", 0 }, { e.flags, e.win })
      e = one("+0 < R 1:1(0) win 0")
      assert.equal("R", e.flags)
      e = one("+0 > F. 1:1(0) ack 1")
      assert.equal("F.", e.flags)
      e = one("+0 < SEW 0:0(0) win 100")
      assert.equal("SEW", e.flags)
      e = one("+0 < P. 1:2(1) ack 1 urg 1")
      assert.equal(1, e.urg)
    end)

    it("timestamps and SACK blocks", function()
      local e = one("+0 > . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 200,nop,nop,sack 1001:2001 3001:4001>")
      assert.same({ kind = "TS", val = 100, ecr = 200 }, e.options[3])
      assert.same({ kind = "sack", blocks = { { 1001, 2001 }, { 3001, 4001 } } }, e.options[6])
      assert.equal(1, one("+0 < . 1:1(0) ack 1 <eol>").options and 1)
    end)

    it("ECN and IP fields, UDP, ICMP and unknown TCP options are unsupported, with their line", function()
      local e = one("+0 < [ect0] S 0:0(0) win 100")
      assert.equal("unsupported", e.kind)
      assert.truthy(e.what:find("ecn", 1, true))
      e = one("+0 < icmp unreachable port_unreachable [1:1(0)]")
      assert.equal("unsupported", e.kind)
      e = one("+0 < udp (1472)")
      assert.equal("unsupported", e.kind)
      e = assert(pkt.parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) <md5 0xab,nop>"))[2]
      assert.equal("unsupported", e.kind)
      assert.equal("TCP option 'md5 0xab'", e.what)
      assert.equal(2, e.line)
      assert.equal("rel", e.time.kind)
    end)
  end)

  describe("system calls", function()
    it("socket, bind, listen, accept, connect with its errno and text", function()
      local e = one("+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3")
      assert.equal("syscall", e.kind)
      assert.equal("socket", e.name)
      assert.same({ { t = "ellipsis" }, { t = "ident", v = "SOCK_STREAM" }, { t = "ident", v = "IPPROTO_TCP" } },
        e.args)
      assert.equal(3, e.ret)
      assert.equal(0, one("+0 bind(3, ..., ...) = 0").ret)
      assert.same({ 3, 1 }, one("+0 listen(3, 1) = 0").args)
      assert.equal(4, one("+0 accept(3, ..., ...) = 4").ret)
      e = one("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")
      assert.equal(-1, e.ret)
      assert.equal("EINPROGRESS", e.errno)
      assert.equal("Operation now in progress", e.errtext)
      e = one("+0 connect(3, ..., ...) = -1 ECONNREFUSED")
      assert.equal("ECONNREFUSED", e.errno)
      assert.is_nil(e.errtext)
    end)

    it("read, write, send, recv, shutdown, close", function()
      assert.same({ 4, { t = "ellipsis" }, 1000 }, one("+0 write(4, ..., 1000) = 1000").args)
      assert.equal(1000, one("+0 read(4, ..., 1000) = 1000").ret)
      assert.same({ 4, { t = "ellipsis" }, 10, 0 }, one("+0 send(4, ..., 10, 0) = 10").args)
      assert.same({ t = "ident", v = "MSG_PEEK" }, one("+0 recv(4, ..., 10, MSG_PEEK) = 10").args[4])
      assert.same({ 4, { t = "ident", v = "SHUT_WR" } }, one("+0 shutdown(4, SHUT_WR) = 0").args)
      assert.same({ 4 }, one("+0 close(4) = 0").args)
      assert.equal("...", pkt.show(one("+0 read(4, ..., 1000) = ...").ret))
    end)

    it("setsockopt, getsockopt, fcntl and poll: arrays, flags, structs", function()
      local e = one("+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0")
      assert.same({ t = "array", 1 }, e.args[4])
      e = one("+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0")
      assert.same({ onoff = 1, linger = 0 }, e.args[4].fields)
      assert.same({ "onoff", "linger" }, e.args[4].names)
      e = one("+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0")
      assert.equal("getsockopt", e.name)
      e = one("+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0")
      assert.same({ t = "or", { t = "ident", v = "O_RDWR" }, { t = "ident", v = "O_NONBLOCK" } }, e.args[3])
      e = one("+0 poll([{fd=4, events=POLLOUT, revents=POLLOUT}], 1, 0) = 1")
      local pfd = e.args[1][1]
      assert.equal("struct", pfd.t)
      assert.equal(4, pfd.fields.fd)
      assert.equal("POLLOUT", pfd.fields.events.v)
      assert.equal("[{fd=4, events=POLLOUT, revents=POLLOUT}]", pkt.show(e.args[1]))
      e = one('+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.168.0.1")}, 16) = 0')
      assert.equal("call", e.args[2].fields.sin_port.t)
      assert.equal("192.168.0.1", e.args[2].fields.sin_addr[1].v)
      assert.equal(255, one("+0 write(4, ..., 0xff) = 255").args[3])
    end)

    it("unknown system calls and TCP_INFO are unsupported, with their line", function()
      local e = one("+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{...,10}]}, 0) = 10")
      assert.equal("unsupported", e.kind)
      assert.equal("system call sendmsg()", e.what)
      e = one("+0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=TCP_ESTABLISHED}, [104]) = 0")
      assert.equal("unsupported", e.kind)
      assert.truthy(e.what:find("TCP_INFO", 1, true))
    end)
  end)

  describe("the rest of a script", function()
    it("python blocks are unsupported events, shell commands are read; comments and options too", function()
      local events = assert(pkt.parse(table.concat({
        "// packetdrill's comments",
        "--tolerance_usecs=10000",
        "/* a block",
        "   comment */",
        "0 `sysctl -q net.ipv4.tcp_timestamps=0`",
        "+0 %{",
        "assert tcpi_rto == 200000, tcpi_rto",
        "}%",
        "+0 close(3) = 0 // the rest of the line",
      }, "\n"), "t.pkt"))
      assert.equal(4, #events)
      assert.same({ kind = "option", name = "tolerance_usecs", value = "10000", line = 2, col = 1 }, events[1])
      assert.same({ kind = "shell", command = "sysctl -q net.ipv4.tcp_timestamps=0", line = 5, col = 1,
        time = { kind = "abs", t = 0 } }, events[2])
      assert.equal("unsupported", events[3].kind)
      assert.equal(6, events[3].line)
      assert.truthy(events[3].what:find("python", 1, true))
      assert.equal("syscall", events[4].kind)
      assert.equal(9, events[4].line)
    end)

    it("a shell command or a python block may go without a time: it runs where it stands", function()
      local events = assert(pkt.parse("`./defaults.sh\nsysctl -q net.ipv4.tcp_sack=0\n`\n%{ x = 1 }%\n"
        .. "0 close(3) = 0", "t.pkt"))
      assert.same({ kind = "shell", command = "./defaults.sh\nsysctl -q net.ipv4.tcp_sack=0\n", line = 1, col = 1,
        time = { kind = "rel", t = 0, implicit = true } }, events[1])
      assert.same({ "unsupported", 4, { kind = "rel", t = 0, implicit = true } },
        { events[2].kind, events[2].line, events[2].time })
      assert.equal(5, events[3].line)
      -- a system call or a packet still needs one
      fails("close(3) = 0", "t.pkt:1:1: expected a time (0.1, +0.1, *) or a shell command or python block, got"
        .. " 'close(3) = 0'")
    end)

    it("an empty script has no events", function()
      assert.same({}, pkt.parse("", "t.pkt"))
      assert.same({}, pkt.parse("// nothing\n\n", "t.pkt"))
    end)

    it("parse_file names the file", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write("0 close(3) = 0\n+0 < S 0:0 win 3\n")
      f:close()
      local events, err = pkt.parse_file(path)
      os.remove(path)
      assert.is_nil(events)
      assert.equal(path .. ":2:12: expected '(', got 'win 3'", err)
      assert.is_nil((pkt.parse_file("/nonexistent/x.pkt")))
    end)
  end)

  describe("malformed lines: file, line, column and what was expected", function()
    it("packets", function()
      fails("+0 < S 0:0(0) win foo", "t.pkt:1:19: expected a window, got 'foo'")
      fails("+0 > X 0:0(0)", "t.pkt:1:6: expected TCP flags (S, F, R, P, '.'), got 'X 0:0(0)'")
      fails("+0 > F. 1:1(0) ack", "t.pkt:1:19: expected an ACK number, got the end of the line")
      fails("+0 < S 0:0(0) <mss 1000,wscale>", "t.pkt:1:31: expected the shift, got '>'")
      fails("+0 < S 0:0(0) <mss 1000", "t.pkt:1:24: expected ',' or '>', got the end of the line")
      fails("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 5:1(0)",
        "t.pkt:2:1: the sequence range 5:1 ends before it starts")
    end)

    it("system calls", function()
      fails("+0 close(4)", "t.pkt:1:12: expected '=' and the return value, got the end of the line")
      fails("+0 close(4) = 0 junk", "t.pkt:1:17: expected an errno or the end of the line, got 'junk'")
      fails("+0 bind(3, ..., ...", "t.pkt:1:20: expected '|' or ',' or ')', got the end of the line")
      fails("+0 close(4) = -1 EBADF (Bad file",
        "t.pkt:1:24: expected '(' and its text or the end of the line, got '(Bad file'")
      fails("+0 poll([{fd=4, events=POLLOUT revents=POLLOUT}], 1, 0) = 1",
        "t.pkt:1:32: expected '(' or '|' or ',' or '}', got 'revents=POLLOUT}], 1...'")
    end)

    it("times and lines", function()
      fails("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "t.pkt:1:1: expected a time (0.1, +0.1, *) or a shell command or python block, got"
        .. " 'socket(..., SOCK_STR...'")
      fails("0 close(3) = 0\n\n  +x close(3) = 0", "t.pkt:3:3: expected a time (0.1, +0.1, *) or a shell command or python block,"
        .. " got '+x close(3) = 0'")
      fails("0 close(3) = 0\n--tolerance_usecs=1", "t.pkt:2:1: expected a time (0.1, +0.1, *) or a shell command or python block,"
        .. " got '--tolerance_usecs=1'")
      fails("0 hello world", "t.pkt:1:9: expected '(', got 'world'")
      fails("0 %{ never closed",
        "t.pkt:1:3: expected '~' or '...' or a shell command or python block or '<' or '>' or a system call,"
        .. " got '%{ never closed'")
    end)
  end)
end)
