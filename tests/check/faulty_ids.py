#!/usr/bin/env python3
"""ids peers for the tests of `pudp check ids`: correct by default, with one
deliberate fault chosen by --fault, so that each check case is seen to fail
against the peer that breaks its rule. python3 stdlib only; 127.0.0.1 only.

Usage:
  faulty_ids.py server PORT [--tcp] [--id-ttl S] [--fault NAME]
  faulty_ids.py client HOST PORT ID [--tcp] [--timeout S] [--fault NAME]

Server faults: wrong-port, reply-newline, no-reset, repeat-silent,
repeat-reset, one-id, digits-only, long-ids, crash-garbage, no-error,
answer-replies, error-flood, no-expiry, keep-after-reset (TCP),
hang-after-one (TCP), one-per-connection (TCP), needs-newline (TCP), quiet.
Client faults: wrong-id, newline, exit1-ok, exit0-reset, retry-error, hang,
reset-after-repeat-ok, no-repeat, any-address, garbage-ok, closed-exit0 (TCP),
needs-newline (TCP).

The correct server: HELLO <id> (1-64 visible ASCII characters) gets OK <id>
<ip> <port> when free or from its holder, else RESET <id>; ids expire after
--id-ttl; malformed requests get ERROR <reason> (5 at once per address, then
5 a second); messages that look like replies, or are not text, get nothing;
over TCP a request is a line (or a partial line alone for 200 ms), replies
end with a newline, and the connection is closed after a RESET. It prints
one line per reply. It stops on SIGTERM or EOF on stdin.
"""

import argparse
import os
import re
import select
import signal
import socket
import sys
import time

REPLY_SHAPED = re.compile(rb"^\s*(OK|RESET|ERROR)\b", re.I)


class Limiter:
    """ERRORs per address: a burst of 5, then 5 a second."""

    def __init__(self):
        self.tokens = {}

    def allow(self, key):
        now = time.monotonic()
        tokens, at = self.tokens.get(key, (5.0, now))
        tokens = min(5.0, tokens + (now - at) * 5)
        if tokens < 1:
            self.tokens[key] = (tokens, now)
            return False
        self.tokens[key] = (tokens - 1, now)
        return True


class Registry:
    def __init__(self, args):
        self.args = args
        self.fault = args.fault
        self.held = {}  # id -> (address, taken at)
        self.limiter = Limiter()

    def say(self, line):
        if self.fault != "quiet":
            print(line, flush=True)

    def expire(self):
        if self.fault == "no-expiry":
            return
        now = time.monotonic()
        for ident, (_, at) in list(self.held.items()):
            if now - at >= self.args.id_ttl:
                del self.held[ident]

    def error(self, address, reason):
        if self.fault == "no-error":
            return None
        if self.fault != "error-flood" and not self.limiter.allow(address):
            return None
        self.say("ERROR %s (from %s:%d)" % (reason, address[0], address[1]))
        return "ERROR " + reason

    def request(self, data, address):
        """The reply to one message (bytes without its line ending), or None."""
        fault = self.fault
        self.expire()
        if data.strip() == b"" and fault != "crash-garbage":
            return self.error(address, "empty request")
        if fault != "answer-replies":
            if REPLY_SHAPED.match(data) or any(b < 0x20 or b > 0x7E for b in data):
                return None
        text = data.decode("latin-1")
        words = text.split()
        if len(words) != 2 or words[0] != "HELLO":
            if fault == "crash-garbage":
                os._exit(3)
            return self.error(address, "expected 'HELLO <id>'")
        ident = words[1]
        if len(ident) > 64 and fault != "long-ids":
            return self.error(address, "id longer than 64 characters")
        if fault == "digits-only" and not ident.isdigit():
            return self.error(address, "expected a 4-digit id")
        holder = self.held.get(ident)
        if holder is not None and fault != "no-reset":
            same = holder[0] == address
            if not same or fault == "repeat-reset":
                self.say("RESET %s (from %s:%d)" % (ident, address[0], address[1]))
                return "RESET " + ident
            if fault == "repeat-silent":
                return None
        if fault == "one-id":
            for other, (who, _) in list(self.held.items()):
                if who == address:
                    del self.held[other]
        if holder is None or holder[0] != address:
            self.held[ident] = (address, time.monotonic())
        port = address[1] + 1 if fault == "wrong-port" else address[1]
        reply = "OK %s %s %d" % (ident, address[0], port)
        self.say(reply)
        return reply


def stdin_closed(ready):
    return sys.stdin in ready and os.read(sys.stdin.fileno(), 4096) == b""


def run_udp_server(args):
    registry = Registry(args)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    while True:
        ready, _, _ = select.select([sock, sys.stdin], [], [], 0.05)
        if stdin_closed(ready):
            return 0
        if sock not in ready:
            continue
        data, address = sock.recvfrom(4096)
        reply = registry.request(data, address)
        if reply is not None:
            end = "\n" if args.fault == "reply-newline" else ""
            sock.sendto((reply + end).encode("latin-1"), address)


def run_tcp_server(args):
    fault = args.fault
    registry = Registry(args)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    conns = {}  # socket -> {"buf", "at", "done"}

    def close(c):
        conns.pop(c, None)
        c.close()

    def handle(c, line):
        state = conns[c]
        if state["done"]:
            return
        reply = registry.request(line, c.getpeername())
        if reply is None:
            return
        end = "\r\n" if fault == "reply-newline" else "\n"
        try:
            c.sendall((reply + end).encode("latin-1"))
        except OSError:
            close(c)
            return
        if reply.startswith("RESET") and fault != "keep-after-reset":
            close(c)
        elif fault == "one-per-connection":
            close(c)
        elif fault == "hang-after-one":
            state["done"] = True

    while True:
        ready, _, _ = select.select([listener, sys.stdin] + list(conns), [], [], 0.05)
        if stdin_closed(ready):
            return 0
        now = time.monotonic()
        for s in ready:
            if s is listener:
                c, _ = listener.accept()
                conns[c] = {"buf": b"", "at": now, "done": False}
            elif s in conns:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                state = conns[s]
                if not data:
                    if state["buf"] and fault != "needs-newline":
                        handle(s, state["buf"])
                    close(s) if s in conns else None
                    continue
                state["buf"] += data
                state["at"] = now
                while s in conns and b"\n" in conns[s]["buf"]:
                    line, _, conns[s]["buf"] = conns[s]["buf"].partition(b"\n")
                    handle(s, line.rstrip(b"\r"))
        for c, state in list(conns.items()):
            if state["buf"] and now - state["at"] >= 0.2 and fault != "needs-newline":
                line, state["buf"] = state["buf"], b""
                handle(c, line)


def run_client(args):
    fault = args.fault
    ident = args.id + ("0" if fault == "wrong-id" else "")
    request = "HELLO " + ident
    if args.tcp:
        request += "\r\n" if fault == "newline" else "\n"
    elif fault == "newline":
        request += "\n"
    server = (args.host, args.port)
    deadline = None if fault == "hang" else time.monotonic() + args.timeout
    tries = 1 if fault == "no-repeat" else 4
    reply = None
    sent = 0
    if args.tcp:
        sock = socket.create_connection(server, timeout=5)
        sock.sendall(request.encode("latin-1"))
        sent = 1
        buf = b""
        while reply is None:
            left = 3600 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
            data = sock.recv(4096)
            if not data:
                if buf and fault != "needs-newline":
                    reply = buf
                elif fault == "closed-exit0":
                    return 0
                break
            buf += data
            if b"\n" in buf:
                reply = buf.split(b"\n")[0].rstrip(b"\r")
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        step = args.timeout / 4
        next_send = time.monotonic()
        while reply is None:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if sent < tries and now >= next_send:
                sock.sendto(request.encode("latin-1"), server)
                sent += 1
                next_send = now + step
            wake = min(x for x in [next_send, deadline or now + 1] if x is not None)
            ready, _, _ = select.select([sock], [], [], max(0.0, wake - time.monotonic()))
            if not ready:
                continue
            data, address = sock.recvfrom(4096)
            if address != server and fault != "any-address":
                continue
            if fault == "retry-error" and data.startswith(b"ERROR"):
                sock.sendto(request.encode("latin-1"), server)
                sent += 1
                continue
            reply = data.rstrip(b"\r\n")
    if reply is None:
        print("no answer from %s:%d" % server, file=sys.stderr)
        return 1
    text = reply.decode("latin-1")
    words = text.split()
    print(text.encode("unicode_escape").decode("ascii"), flush=True)
    if fault == "garbage-ok":
        return 0
    if words[:1] == ["OK"] and len(words) == 4:
        return 1 if fault == "exit1-ok" else 0
    if words[:1] == ["RESET"]:
        if fault == "exit0-reset" or (fault == "reset-after-repeat-ok" and sent > 1):
            return 0
        if sent > 1:
            print("RESET after %d requests: the id may be this client's own" % sent,
                  file=sys.stderr)
        return 1
    return 1


LIFETIME = 60  # seconds: even a peer told to hang goes away, should its checker die first


def main():
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    signal.alarm(LIFETIME)
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--id-ttl", type=float, default=30.0)
    parser.add_argument("--fault", default="none")
    args = parser.parse_args()
    if args.role == "client":
        args.host, args.port, args.id = args.rest[0], int(args.rest[1]), args.rest[2]
        return run_client(args)
    args.port = int(args.rest[0])
    return run_tcp_server(args) if args.tcp else run_udp_server(args)


if __name__ == "__main__":
    sys.exit(main())
