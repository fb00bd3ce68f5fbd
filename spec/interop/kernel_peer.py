#!/usr/bin/env python3
"""The kernel's side of the interop specs: ordinary socket programs on the
Linux kernel's TCP, in the test's own network namespace. Each prints one
line, a Lua table literal, with what it saw, then exits; every call is bounded by a socket
timeout and the whole program by an alarm.

  kernel_peer.py client HOST PORT SEND_BYTES [--shut-wr] [--conns N]
      connect, send SEND_BYTES bytes (a known pattern), optionally shut down
      writing, read until EOF; N connections at once (threads)
  kernel_peer.py server HOST PORT [--echo] [--send N] [--conns N] [--close-first]
      listen, accept N connections; with --echo send back what arrives; with
      --send N send N bytes; --close-first: close right after sending
      (before the peer's FIN), else read to EOF and then close
  kernel_peer.py http-get HOST PORT [--path PATH]
      python's http.client: GET PATH (default /), read the whole response;
      prints its status, version, body and the socket's end
"""
import argparse
import hashlib
import signal
import socket
import sys
import threading

TIMEOUT = 20


def lua(v):
    """v as a Lua literal: the specs read these lines with load()."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        # printable ASCII as it is, anything else (CR, LF, bytes >= 127) as \ddd
        return '"%s"' % "".join(c if " " <= c < "\x7f" and c not in '"\\' else
                                "\\%03d" % ord(c) if ord(c) < 256 else c for c in v)
    if isinstance(v, dict):
        return "{" + ", ".join("[%s] = %s" % (lua(k), lua(x)) for k, x in v.items()) + "}"
    return "{" + ", ".join(lua(x) for x in v) + "}"


BLOCK = bytes(range(256)) * 256  # 64 KiB of the pattern


def pattern_chunks(n):
    """The pattern's first n bytes, 64 KiB at a time."""
    while n > 0:
        chunk = BLOCK[:n]
        n -= len(chunk)
        yield chunk


def send_pattern(s, n):
    """Sends the pattern's first n bytes and returns their SHA-256. Chunk by
    chunk: since Python 3.5 a socket timeout bounds a whole sendall, so one
    sendall of 100 MiB over a lossy path would time out while data still
    flows; per chunk, the timeout means "no progress for TIMEOUT s"."""
    digest = hashlib.sha256()
    for chunk in pattern_chunks(n):
        s.sendall(chunk)
        digest.update(chunk)
    return digest.hexdigest()


def read_all(s, digest):
    total = 0
    while True:
        try:
            data = s.recv(1 << 16)
        except ConnectionResetError:
            return total, "reset"
        if not data:
            return total, "eof"
        digest.update(data)
        total += len(data)


def client(args, results, i):
    r = {"conn": i}
    try:
        s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
        r["local_port"] = s.getsockname()[1]
        r["sent_sha256"] = send_pattern(s, args.send)
        r["sent"] = args.send
        if args.shut_wr:
            s.shutdown(socket.SHUT_WR)
        d = hashlib.sha256()
        r["received"], r["end"] = read_all(s, d)
        r["received_sha256"] = d.hexdigest()
        s.close()
    except Exception as e:  # reported, not raised: the spec reads it
        r["error"] = "%s: %s" % (type(e).__name__, e)
    results[i] = r


def serve_one(args, conn, results, i):
    r = {"conn": i}
    try:
        conn.settimeout(TIMEOUT)
        r["peer_port"] = conn.getpeername()[1]
        d = hashlib.sha256()
        if args.send:
            r["sent_sha256"] = send_pattern(conn, args.send)
            r["sent"] = args.send
        if args.close_first:
            conn.close()
            results[i] = r
            return
        total = 0
        while True:
            try:
                data = conn.recv(1 << 16)
            except ConnectionResetError:
                r["end"] = "reset"
                break
            if not data:
                r["end"] = "eof"
                break
            d.update(data)
            total += len(data)
            if args.echo:
                conn.sendall(data)
        r["received"] = total
        r["received_sha256"] = d.hexdigest()
        conn.close()
    except Exception as e:
        r["error"] = "%s: %s" % (type(e).__name__, e)
    results[i] = r


def http_get(args):
    import http.client
    r = {}
    try:
        conn = http.client.HTTPConnection(args.host, args.port, timeout=TIMEOUT)
        conn.request("GET", args.path)
        resp = conn.getresponse()
        body = resp.read()
        r["status"] = resp.status
        r["version"] = resp.version  # 10 for HTTP/1.0
        r["body"] = body.decode("latin-1")
        r["length"] = len(body)
        conn.close()
    except Exception as e:
        r["error"] = "%s: %s" % (type(e).__name__, e)
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["client", "server", "http-get"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("send", type=int, nargs="?", default=0)
    p.add_argument("--send", dest="send_opt", type=int, default=None)
    p.add_argument("--shut-wr", action="store_true")
    p.add_argument("--echo", action="store_true")
    p.add_argument("--close-first", action="store_true")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--path", default="/")
    p.add_argument("--alarm", type=int, default=TIMEOUT * 3, help="seconds the whole run may take")
    args = p.parse_args()
    if args.send_opt is not None:
        args.send = args.send_opt
    signal.alarm(args.alarm)  # the whole program is bounded
    results = [None] * args.conns
    threads = []
    if args.role == "http-get":
        results = [http_get(args)]
    elif args.role == "client":
        for i in range(args.conns):
            t = threading.Thread(target=client, args=(args, results, i))
            t.start()
            threads.append(t)
    else:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.host, args.port))
        ls.listen(max(args.conns, 16))
        ls.settimeout(TIMEOUT)
        print(lua({"listening": args.port}), flush=True)
        for i in range(args.conns):
            conn, _ = ls.accept()
            t = threading.Thread(target=serve_one, args=(args, conn, results, i))
            t.start()
            threads.append(t)
        ls.close()
    for t in threads:
        t.join()
    print(lua({"done": True, "results": results}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
