#!/usr/bin/env python3
"""PUDP peers for the tests of `pudp check`: correct by default, with one
deliberate fault chosen by --fault, so that each check case is seen to fail
against the peer that breaks its row.

Usage:
  faulty_peers.py server PORT [--timeout S] [--fault NAME]
  faulty_peers.py client HOST PORT [--timeout S] [--fault NAME]

Server faults: no-hello-reply, repeat-hello-closes, no-duplicate-hello,
data-creates, hello-any-seq, no-alive, no-newline, seq-constant,
no-lost-lines, gap-closes, alive-duplicate, old-ignored, no-goodbye-reply,
keep-session, no-time-wait, any-address, any-magic, inside-hello-ignored,
no-timeout, eof-silent.
Client faults: hello-seq1, no-wait, join-lines, seq-skip, new-session,
no-goodbye, exit1, ignore-goodbye, any-session, any-magic, any-address,
crash-short, strict-alive-count, hang, no-goodbye-on-giveup,
ignore-alive-timer, hang-closing, exit1-unconfirmed, exit0-always.
"""

import argparse
import os
import random
import select
import signal
import socket
import struct
import sys
import time

HELLO, DATA, ALIVE, GOODBYE = 0, 1, 2, 3
HEADER = struct.Struct("!HBBII")
MAGIC = 0xC356


def pack(command, seq, session, payload=b""):
    return HEADER.pack(MAGIC, 1, command, seq, session) + payload


def unpack(datagram, any_magic=False):
    if len(datagram) < HEADER.size:
        return None
    magic, version, command, seq, session = HEADER.unpack_from(datagram)
    if not any_magic and (magic != MAGIC or version != 1):
        return None
    return command, seq, session, datagram[HEADER.size:]


def run_server(args):
    fault = args.fault
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    sessions = {}  # id -> [address, expected, last heard]
    closed = {}  # id -> (address, seq, when): closed by GOODBYE
    counter = [0]
    out = sys.stdout

    def reply(command, session, address):
        sock.sendto(pack(command, counter[0], session), address)
        if fault != "seq-constant":
            counter[0] += 1

    def close(session, address):
        reply(GOODBYE, session, address)
        out.write("0x%08x Session closed\n" % session)
        sessions.pop(session, None)

    while True:
        ready, _, _ = select.select([sock, sys.stdin], [], [], 0.05)
        now = time.monotonic()
        if sys.stdin in ready and os.read(sys.stdin.fileno(), 4096) == b"":
            for session, (address, _, _) in list(sessions.items()):
                if fault != "eof-silent":
                    close(session, address)
            out.flush()
            return 0
        if sock in ready:
            data, address = sock.recvfrom(65535)
            msg = unpack(data, fault == "any-magic")
            if msg is not None:
                handle(msg, address, now, sessions, closed, reply, close, out, fault, args)
        for session, (address, _, heard) in list(sessions.items()):
            if fault != "no-timeout" and now - heard > args.timeout:
                close(session, address)
        out.flush()


def handle(msg, address, now, sessions, closed, reply, close, out, fault, args):
    command, seq, session, payload = msg
    state = sessions.get(session)
    if state is None:
        if command == HELLO and (seq == 0 or fault == "hello-any-seq"):
            sessions[session] = [address, seq + 1, now]
            out.write("0x%08x [%d] Session created\n" % (session, seq))
            if fault != "no-hello-reply":
                reply(HELLO, session, address)
        elif command == DATA and fault == "data-creates":
            reply(ALIVE, session, address)
        elif command == GOODBYE and fault != "no-time-wait":
            gone = closed.get(session)
            if gone and gone[0] == address and gone[1] == seq and now - gone[2] < args.timeout:
                reply(GOODBYE, session, address)
        return
    if state[0] != address and fault != "any-address":
        return
    state[2] = now
    expected = state[1]
    if seq == expected - 1:
        if command == HELLO and seq == 0 and expected == 1:
            if fault == "repeat-hello-closes":
                close(session, address)
                return
            out.write("0x%08x [%d] Duplicate packet!\n" % (session, seq))
            if fault != "no-duplicate-hello":
                reply(HELLO, session, address)
            return
        out.write("0x%08x [%d] Duplicate packet!\n" % (session, seq))
        if fault == "alive-duplicate":
            reply(ALIVE, session, address)
        return
    if seq < expected - 1:
        if fault != "old-ignored":
            close(session, address)
        return
    if seq > expected:
        if fault == "gap-closes":
            close(session, address)
            return
        if fault != "no-lost-lines":
            for lost in range(expected, seq):
                out.write("0x%08x [%d] Lost packet!\n" % (session, lost))
    state[1] = seq + 1
    if command == DATA:
        text = payload.decode("utf-8", "replace")
        if fault != "no-newline" and not text.endswith("\n"):
            text += "\n"
        out.write("0x%08x [%d] %s" % (session, seq, text))
        if fault != "no-alive":
            reply(ALIVE, session, address)
    elif command == GOODBYE:
        out.write("0x%08x [%d] GOODBYE from client.\n" % (session, seq))
        if fault == "keep-session":
            reply(GOODBYE, session, address)
            return
        if fault == "no-goodbye-reply":
            out.write("0x%08x Session closed\n" % session)
            del sessions[session]
        else:
            close(session, address)
        closed[session] = (address, seq, now)
    elif fault != "inside-hello-ignored":
        close(session, address)


def run_client(args):
    fault = args.fault
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server = (args.host, args.port)
    session = random.getrandbits(32)
    seq = [1 if fault == "hello-seq1" else 0]
    sent_data = [0]
    alive = [0]

    def send(command, payload=b"", sid=None):
        sock.sendto(pack(command, seq[0], session if sid is None else sid, payload), server)
        seq[0] += 1

    send(HELLO)
    state = "ready" if fault == "no-wait" else "hello"
    deadline = time.monotonic() + args.timeout
    pending = []  # lines read before the HELLO reply
    buffered = b""
    eof = False
    goodbye_seq = None
    first_data = [True]

    def send_line(line):
        if fault == "seq-skip" and first_data[0]:
            seq[0] += 1
        sid = (session + 1) & 0xFFFFFFFF if fault == "new-session" else None
        first_data[0] = False
        send(DATA, line, sid)
        sent_data[0] += 1

    def flush_lines():
        nonlocal pending
        lines = pending
        pending = []
        if fault == "join-lines" and len(lines) >= 2:
            lines = [lines[0] + lines[1]] + lines[2:]
        for line in lines:
            send_line(line)

    timer = "hello"  # what the deadline means: hello, alive, closing, or None
    while True:
        now = time.monotonic()
        if timer is not None and now >= deadline:
            if timer == "hello":
                if fault == "hang":
                    timer = None
                    continue
                if fault != "no-goodbye-on-giveup":
                    send(GOODBYE)
                print("no answer", file=sys.stderr)
                return 1
            if timer == "alive":
                if fault == "ignore-alive-timer":
                    timer = None
                    continue
                send(GOODBYE)
                print("server stopped answering", file=sys.stderr)
                return 1
            if timer == "closing":
                if fault == "hang-closing":
                    timer = None
                    continue
                if fault == "exit0-always":
                    return 0
                if fault == "exit1-unconfirmed":
                    return 1
                return 0 if alive[0] >= sent_data[0] else 1
        wait = 0.05 if timer is None else max(0.0, min(0.05, deadline - now))
        watch = [sock] + ([] if eof else [sys.stdin])
        ready, _, _ = select.select(watch, [], [], wait)
        if sys.stdin in ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if chunk == b"":
                eof = True
                if buffered:
                    pending.append(buffered)
                    buffered = b""
            else:
                buffered += chunk
                while b"\n" in buffered:
                    line, buffered = buffered.split(b"\n", 1)
                    pending.append(line)
        if sock in ready:
            data, address = sock.recvfrom(65535)
            if len(data) < HEADER.size and fault == "crash-short":
                raise ValueError("short datagram")
            msg = unpack(data, fault == "any-magic")
            if msg is not None and (address == server or fault == "any-address"):
                command, _, sid, _ = msg
                if sid == session or fault == "any-session":
                    if command == HELLO and state == "hello":
                        state = "ready"
                        timer = None
                    elif command == ALIVE:
                        alive[0] += 1
                        if fault == "strict-alive-count" and alive[0] > sent_data[0]:
                            print("too many ALIVE", file=sys.stderr)
                            return 2
                        if state == "ready" and timer == "alive":
                            timer = None
                    elif command == GOODBYE:
                        if state == "closing":
                            return 1 if fault == "exit1" else 0
                        if fault != "ignore-goodbye":
                            print("server closed the session", file=sys.stderr)
                            return 1
        if state == "ready":
            if pending:
                flush_lines()
                if timer is None:
                    timer = "alive"
                    deadline = time.monotonic() + args.timeout
            if eof and not pending:
                if fault == "no-goodbye":
                    return 0
                goodbye_seq = seq[0]
                send(GOODBYE)
                state = "closing"
                timer = "closing"
                deadline = time.monotonic() + args.timeout


LIFETIME = 60  # seconds: even a peer told to hang goes away, should its checker die first


def main():
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(LIFETIME)
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--fault", default="none")
    args = parser.parse_args()
    if args.role == "client":
        args.host, args.port = args.rest[0], int(args.rest[1])
        return run_client(args)
    args.port = int(args.rest[0])
    return run_server(args)


if __name__ == "__main__":
    sys.exit(main())
