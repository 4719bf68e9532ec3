#!/usr/bin/env python3
"""Course-style ids, frame and pipe peers, for pudp's interoperability tests.

Like course_peers.py, these are NOT the course's implementations: they are
small models of behaviours seen when course students' programs ran against
pudp (issue 26), so that each is exercised for real, over loopback.

  ids-server PORT [--drop-first-ok]
        UDP. HELLO <id>: OK <id> <ip> <port> if nobody holds it, else RESET
        <id>, even to the very address that holds it (a repeat is not
        recognised). --drop-first-ok takes the id for the first request but
        does not send its OK (as if the datagram were lost). Anything else
        gets no reply. Stops at EOF on stdin.
  ids-client HOST PORT REQUEST [--timeout S] [--max N]
        UDP. Sends REQUEST; on an ERROR reply sends it again at once (the
        course client's loop), at most N times. Ends after S seconds (1) of
        silence and prints "replies N errors M" on stdout.
  frame-server PORT [--read-delay S] [--idle S]
        TCP. Takes each recv(1024) as ONE message (a 4-byte length, then the
        payload), answers it (the text minus 10 characters) and drops the
        rest of that read. --read-delay S (0.2) waits before each read, so
        messages a client pipelines arrive together. A connection silent
        for --idle S (1) is closed.
  pipe-server PORT [--greet TEXT]
        TCP. Writes what each client sends to stdout, and never closes a
        connection (not even after the client's EOF) until EOF on stdin.
        --greet sends TEXT to each client first (a foreign server's banner).

Every server prints "listening on 127.0.0.1:PORT" to stderr and stops at EOF
on stdin.
"""

import argparse
import os
import select
import socket
import struct
import sys
import time


def listening(sock):
    print("listening on 127.0.0.1:%d" % sock.getsockname()[1], file=sys.stderr, flush=True)


def stdin_closed(ready):
    return sys.stdin in ready and os.read(sys.stdin.fileno(), 4096) == b""


def run_ids_server(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    listening(sock)
    held = {}  # id -> address
    dropped_first = False
    while True:
        ready, _, _ = select.select([sock, sys.stdin], [], [], 0.1)
        if stdin_closed(ready):
            return 0
        if sock not in ready:
            continue
        data, address = sock.recvfrom(2048)
        words = data.decode("ascii", "replace").split()
        if len(words) != 2 or words[0] != "HELLO":
            continue  # no ERROR, as the course servers did
        ident = words[1]
        if ident in held:
            reply = "RESET %s" % ident  # the holder's repeat too
        else:
            held[ident] = address
            reply = "OK %s %s %d" % (ident, address[0], address[1])
            if args.drop_first_ok and not dropped_first:
                dropped_first = True
                print("dropped the first OK", file=sys.stderr, flush=True)
                continue
        sock.sendto(reply.encode(), address)
        print(reply, flush=True)


def run_ids_client(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server = (args.host, args.port)
    sock.settimeout(args.timeout)
    sock.sendto(args.request.encode(), server)
    replies = errors = 0
    while True:
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            break
        replies += 1
        if data.startswith(b"ERROR"):
            errors += 1
            if errors >= args.max:
                break
            sock.sendto(args.request.encode(), server)  # the loop: ask again at once
    print("replies %d errors %d" % (replies, errors), flush=True)
    return 0


def run_frame_server(args):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)
    listening(listener)
    conns = {}  # socket -> last heard
    while True:
        ready, _, _ = select.select([listener, sys.stdin] + list(conns), [], [], 0.05)
        if stdin_closed(ready):
            return 0
        now = time.monotonic()
        for s in ready:
            if s is listener:
                conn, _ = listener.accept()
                conns[conn] = now
            elif s in conns:
                time.sleep(args.read_delay)
                data = s.recv(1024)  # one read is one message
                if not data:
                    s.close()
                    del conns[s]
                    continue
                conns[s] = time.monotonic()
                if len(data) < 4:
                    continue
                (length,) = struct.unpack("!I", data[:4])
                text = data[4:4 + length].decode("utf-8", "replace")
                answer = text[10:].encode()
                s.sendall(struct.pack("!I", len(answer)) + answer)
                print("read %d bytes, answered 1 message" % len(data), flush=True)
        for s, heard in list(conns.items()):
            if now - heard > args.idle:
                s.close()
                del conns[s]


def run_pipe_server(args):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)
    listening(listener)
    conns = []
    kept = []  # after their EOF: held open (a dropped socket object would close)
    out = sys.stdout.buffer
    while True:
        ready, _, _ = select.select([listener, sys.stdin] + conns, [], [], 0.1)
        if stdin_closed(ready):
            return 0
        for s in ready:
            if s is listener:
                conn, _ = listener.accept()
                if args.greet:
                    conn.sendall(args.greet.encode())
                conns.append(conn)
            elif s in conns:
                data = s.recv(65536)
                if data:
                    out.write(data)
                    out.flush()
                else:
                    conns.remove(s)  # EOF: kept open, never closed
                    kept.append(s)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["ids-server", "ids-client", "frame-server", "pipe-server"])
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--drop-first-ok", action="store_true")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--max", type=int, default=1000)
    parser.add_argument("--read-delay", type=float, default=0.2)
    parser.add_argument("--idle", type=float, default=1.0)
    parser.add_argument("--greet", default="")
    args = parser.parse_args()
    if args.role == "ids-client":
        args.host, args.port, args.request = args.rest[0], int(args.rest[1]), args.rest[2]
        return run_ids_client(args)
    args.port = int(args.rest[0])
    return {"ids-server": run_ids_server, "frame-server": run_frame_server,
            "pipe-server": run_pipe_server}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
