#!/usr/bin/env python3
"""Course-style PUDP peers, for pudp's interoperability tests.

These are NOT the course's reference implementations (they are not ours to
ship). They are small models written from the course handout and
from how the reference peers were seen to behave (issue 14), so that each
behaviour pudp must cope with is exercised for real, over loopback:

  client: sends each stdin line WITH its "\\n", as fast as it can (no
          pacing, ALIVEs ignored), says GOODBYE at EOF and waits --timeout
          (5 s) for the server's GOODBYE. --goodbye-first sends GOODBYE (seq 0) before its
          HELLO (seq 1), as one course client sometimes did.
  server: reads into a fixed buffer (--bufsize, 1460 by default: longer
          datagrams are truncated, as recvfrom does), prints each payload
          with end='' (so it relies on the client's "\\n"), prints "Lost
          packet!" per missing number and carries on, closes a session after
          --timeout s (5) of silence. --strict-decode decodes each payload
          as strict UTF-8 (payload.decode()), as two course servers did: a
          payload cut inside a character raises UnicodeDecodeError and the
          server dies with a traceback, exit 1.

Usage:
  course_peers.py client HOST PORT [--magic N] [--wire-version N] [--timeout S] [--goodbye-first]
  course_peers.py server PORT [--magic N] [--wire-version N] [--timeout S] [--bufsize N]
                  [--strict-decode]
--magic and --wire-version model the other variants course peers speak
(0xC461 "P0P"; 0xE86D with version 2).
The server prints "listening on 127.0.0.1:PORT" to stderr and stops at EOF
on stdin.
"""

import argparse
import os
import random
import select
import socket
import struct
import sys
import threading
import time

HELLO, DATA, ALIVE, GOODBYE = 0, 1, 2, 3
HEADER = struct.Struct("!HBBII")
VERSION = 1  # the version byte sent and expected (--wire-version)


def pack(magic, command, seq, session, payload=b""):
    return HEADER.pack(magic, VERSION, command, seq, session) + payload


def unpack(magic, datagram):
    if len(datagram) < HEADER.size:
        return None
    m, version, command, seq, session = HEADER.unpack_from(datagram)
    if m != magic or version != VERSION:
        return None
    return command, seq, session, datagram[HEADER.size:]


def run_client(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server = (args.host, args.port)
    session = random.getrandbits(32)
    seq = 0
    closed = threading.Event()

    def send(command, payload=b""):
        nonlocal seq
        sock.sendto(pack(args.magic, command, seq, session, payload), server)
        seq += 1

    def receive():
        while not closed.is_set():
            try:
                data, _ = sock.recvfrom(65535)
            except OSError:
                return
            msg = unpack(args.magic, data)
            if msg is None or msg[2] != session:
                continue
            if msg[0] == GOODBYE:
                closed.set()
                return

    if args.goodbye_first:
        send(GOODBYE)
    send(HELLO)
    threading.Thread(target=receive, daemon=True).start()
    for line in sys.stdin.buffer:
        if closed.is_set():
            print("server closed the session", file=sys.stderr)
            return 1
        send(DATA, line)  # with its "\n", unpaced
    send(GOODBYE)
    deadline = time.monotonic() + args.timeout
    while not closed.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    return 0 if closed.is_set() else 1


def run_server(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    print("listening on 127.0.0.1:%d" % sock.getsockname()[1], file=sys.stderr, flush=True)
    sessions = {}  # id -> [address, expected, last heard]
    server_seq = 0
    out = sys.stdout

    def reply(command, session, address):
        nonlocal server_seq
        sock.sendto(pack(args.magic, command, server_seq, session), address)
        server_seq += 1

    stdin_open = True
    while stdin_open or sessions:
        ready, _, _ = select.select([sock] + ([sys.stdin] if stdin_open else []), [], [], 0.1)
        now = time.monotonic()
        if sys.stdin in ready and os.read(sys.stdin.fileno(), 4096) == b"":
            stdin_open = False
            for session, (address, _, _) in list(sessions.items()):
                reply(GOODBYE, session, address)
                out.write("0x%08x Session closed\n" % session)
            sessions.clear()
            break
        if sock in ready:
            data, address = sock.recvfrom(args.bufsize)  # truncates longer datagrams
            msg = unpack(args.magic, data)
            if msg is not None:
                command, seq, session, payload = msg
                state = sessions.get(session)
                if state is None:
                    if command == HELLO and seq == 0:
                        sessions[session] = [address, 1, now]
                        out.write("0x%08x [%d] Session created\n" % (session, seq))
                        reply(HELLO, session, address)
                elif state[0] == address:
                    state[2] = now
                    if seq == state[1] - 1:
                        out.write("0x%08x [%d] Duplicate packet!\n" % (session, seq))
                    elif seq >= state[1]:
                        for lost in range(state[1], seq):
                            out.write("0x%08x [%d] Lost packet!\n" % (session, lost))
                        state[1] = seq + 1
                        if command == DATA:
                            out.write("0x%08x [%d] " % (session, seq))
                            errors = "strict" if args.strict_decode else "replace"
                            out.write(payload.decode("utf-8", errors))  # end=''
                            reply(ALIVE, session, address)
                        elif command == GOODBYE:
                            out.write("0x%08x [%d] GOODBYE from client.\n" % (session, seq))
                            reply(GOODBYE, session, address)
                            out.write("0x%08x Session closed\n" % session)
                            del sessions[session]
        for session, (address, _, heard) in list(sessions.items()):
            if now - heard > args.timeout:
                reply(GOODBYE, session, address)
                out.write("0x%08x Session closed\n" % session)
                del sessions[session]
        out.flush()
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--magic", type=lambda s: int(s, 0), default=0xC356)
    parser.add_argument("--wire-version", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--bufsize", type=int, default=1460)
    parser.add_argument("--goodbye-first", action="store_true")
    parser.add_argument("--strict-decode", action="store_true")
    args = parser.parse_args()
    global VERSION
    VERSION = args.wire_version
    if args.role == "client":
        args.host, args.port = args.rest[0], int(args.rest[1])
        return run_client(args)
    args.port = int(args.rest[0])
    return run_server(args)


if __name__ == "__main__":
    sys.exit(main())
