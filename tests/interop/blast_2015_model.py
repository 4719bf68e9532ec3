#!/usr/bin/env python3
"""A model of the seed's own 2015 blast pair ("ardei", A.K. Weeks), for
pudp's `blast --classic` interoperability tests.

NOT the 2015 program: a small model written from its README (and the
protocol as issue 26 states it), both roles and both transports:

  request (bare text, no terminator; one per TCP connection or UDP datagram):
    any text                    -> the text upper-cased
    N (decimal, < 123456790)    -> "file_prepared", then N bytes of "A"
    stream-<ms>-<count>-<size>  -> count chunks of size bytes of "A", ms apart
  then the server closes (TCP) or goes silent (UDP).

  server: TCP reads the request with one recv(1024), sends with sendall, closes.
          UDP answers each datagram with recvfrom(1024)/sendto: the file in
          datagrams of 1024 bytes, each stream chunk one datagram. Serves
          one request at a time (as the 2015 servers did). A request over
          123456789 bytes gets no answer.
  client: one request per run; TCP reads until the empty read (the close);
          UDP reads with recvfrom(65535) until --silence seconds pass
          without a datagram (the 2015 client's RcvTimeOut_file). Prints
          one line to stdout: "echo TEXT", or "file OK|BAD bytes=N" /
          "stream OK|BAD bytes=N" (OK: every byte asked for, all "A",
          and for a file "file_prepared" first).

Usage:
  blast_2015_model.py server PORT [--udp]     (bound to 127.0.0.1; prints
      "listening on 127.0.0.1:PORT" to stderr; stops at EOF on stdin)
  blast_2015_model.py client HOST PORT REQUEST [--udp] [--silence S]
"""

import argparse
import socket
import sys
import threading
import time

LIMIT = 123456789
NOTICE = b"file_prepared"
UDP_CHUNK = 1024


def answer(request):
    """The answer to one request: a list of (delay_s, bytes) parts, or None."""
    text = request.decode("utf-8")
    if text.isdigit():
        n = int(text)
        if n > LIMIT:
            return None
        return [(0, NOTICE), (0, b"A" * n)]
    if text.startswith("stream-"):
        try:
            ms, count, size = (int(x) for x in text[len("stream-"):].split("-"))
        except ValueError:
            ms = None
        if ms is not None:
            if count * size > LIMIT:
                return None
            return [(ms / 1000 if i > 0 else 0, b"A" * size) for i in range(count)]
    return [(0, text.upper().encode("utf-8"))]


def serve_tcp(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            request = conn.recv(1024)
            parts = answer(request) if request else None
            for delay, data in parts or []:
                if delay:
                    time.sleep(delay)
                conn.sendall(data)


def serve_udp(sock):
    while True:
        try:
            request, peer = sock.recvfrom(1024)
        except OSError:
            return
        parts = answer(request)
        for delay, data in parts or []:
            if delay:
                time.sleep(delay)
            if data is NOTICE or len(data) <= UDP_CHUNK or parts[0][1] is not NOTICE:
                sock.sendto(data, peer)
                continue
            for i in range(0, len(data), UDP_CHUNK):
                sock.sendto(data[i:i + UDP_CHUNK], peer)
                if (i // UDP_CHUNK) % 32 == 31:
                    time.sleep(0.001)  # the 2015 server's slow file loop, roughly


def run_server(args):
    kind = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", args.port))
    if not args.udp:
        sock.listen(16)
    target = serve_udp if args.udp else serve_tcp
    threading.Thread(target=target, args=(sock,), daemon=True).start()
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    sys.stdin.read()  # until EOF
    sock.close()
    return 0


def check(request, got):
    text = request
    if text.isdigit():
        n = int(text)
        ok = got.startswith(NOTICE) and got[len(NOTICE):] == b"A" * n
        return f"file {'OK' if ok else 'BAD'} bytes={max(0, len(got) - len(NOTICE))}"
    if text.startswith("stream-"):
        _, count, size = (int(x) for x in text[len("stream-"):].split("-"))
        ok = got == b"A" * (count * size)
        return f"stream {'OK' if ok else 'BAD'} bytes={len(got)}"
    return "echo " + got.decode("utf-8", "replace")


def run_client(args):
    request = args.request.encode("utf-8")
    if args.udp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(args.silence)
        sock.sendto(request, (args.host, args.port))
        got = b""
        while True:
            try:
                data, _ = sock.recvfrom(65535)
            except socket.timeout:
                break
            got += data
            if not args.request.isdigit() and not args.request.startswith("stream-"):
                break  # an echo is one datagram
    else:
        sock = socket.create_connection((args.host, args.port), timeout=args.silence)
        sock.sendall(request)
        got = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            got += data
    sock.close()
    print(check(args.request, got), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("port", type=int)
    s.add_argument("--udp", action="store_true")
    c = sub.add_parser("client")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("request")
    c.add_argument("--udp", action="store_true")
    c.add_argument("--silence", type=float, default=2.0)
    args = p.parse_args()
    return run_server(args) if args.role == "server" else run_client(args)


if __name__ == "__main__":
    sys.exit(main())
