#!/usr/bin/env python3
"""Pipe peers for the tests of `pudp check pipe`: correct by default, with one
deliberate fault chosen by --fault, so that each check case is seen to fail
against the peer that breaks its rule.

Usage:
  faulty_pipe.py server PORT [--fault NAME]
  faulty_pipe.py client HOST PORT [--timeout S] [--fault NAME]

The server (TCP, 127.0.0.1 only) writes each client's bytes to stdout exactly
and contiguously: the first client streams live, the others are held in
memory and written in the order they connected; a connection is closed as
soon as its client's bytes are all held or written (after its EOF). On
SIGTERM it stops accepting, lets the open connections finish, writes what it
holds and exits 0.
The client streams stdin in chunks, half-closes at EOF and exits 0 once the
server closes its side; the server closing (or half-closing) or resetting
first is exit 1; --timeout S gives up (exit 1) S seconds after EOF.

Server faults: crlf, text-mode, drop-1-byte-reads, truncate-large,
interleave, backlog-1, lifo-order, no-close, close-on-turn, crash-on-abrupt,
empty-newline, die-on-term.
Client faults: text-mode, first-read-only, no-connect-empty, truncate,
slurp, exit-at-eof, ignore-errors, ignore-server-fin, no-eof,
give-up-exit0, ignore-timeout.
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time

CHUNK = 65536


class Conn:
    """One client of the server: its chunks, whether it ended, its socket."""

    def __init__(self, sock):
        self.sock = sock
        self.chunks = []
        self.done = False
        self.total = 0


def run_server(args):
    fault = args.fault
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(1 if fault == "backlog-1" else 64)
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], file=sys.stderr, flush=True)
    out = sys.stdout.buffer
    lock = threading.Condition()
    queue = []  # Conn, in the order they connected (fault lifo-order: newest held first)
    state = {"stopping": False, "open": 0}

    def transform(conn, data):
        if fault == "crlf":
            data = data.replace(b"\r\n", b"\n")
        if fault == "text-mode":
            data = data.decode("utf-8", "replace").encode("utf-8")
        if fault == "drop-1-byte-reads" and len(data) == 1:
            return b""
        if fault == "truncate-large":
            room = max(0, (16 << 20) - conn.total)
            data = data[:room]
        return data

    def write(data):
        out.write(data)
        out.flush()

    def close(conn):
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.sock.close()

    def reader(conn):
        while True:
            try:
                data = conn.sock.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            data = transform(conn, data)
            conn.total += len(data)
            with lock:
                if fault == "interleave":
                    write(data)
                else:
                    conn.chunks.append(data)
                lock.notify_all()
        if fault == "empty-newline" and conn.total == 0:
            with lock:
                conn.chunks.append(b"\n")
        if fault == "crash-on-abrupt":
            try:
                conn.sock.sendall(b"ok\n")
                time.sleep(0.1)
                conn.sock.sendall(b"ok\n")
            except OSError:
                os._exit(1)
        with lock:
            conn.done = True
            state["open"] -= 1
            lock.notify_all()
        if fault not in ("no-close", "close-on-turn"):
            close(conn)

    def writer():
        while True:
            with lock:
                while not queue:
                    if state["stopping"] and state["open"] == 0:
                        return
                    lock.wait(0.1)
                conn = queue[0]
                while True:
                    while conn.chunks:
                        write(conn.chunks.pop(0))
                    if conn.done:
                        break
                    lock.wait(0.1)
                queue.pop(0)
                if fault == "lifo-order" and len(queue) > 1:
                    queue.reverse()
            if fault == "close-on-turn":
                close(conn)

    def on_term(_signum, _frame):
        if fault == "die-on-term":
            os._exit(1)
        state["stopping"] = True
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if fault == "backlog-1":
        time.sleep(4)
    done = threading.Thread(target=writer, daemon=True)
    done.start()
    listener.settimeout(0.2)
    kept = []
    while not state["stopping"]:
        try:
            sock, _ = listener.accept()
        except (socket.timeout, OSError):
            continue
        sock.settimeout(None)
        conn = Conn(sock)
        kept.append(conn)
        with lock:
            queue.append(conn)
            state["open"] += 1
            lock.notify_all()
        threading.Thread(target=reader, args=(conn,), daemon=True).start()
    listener.close()
    with lock:
        lock.notify_all()
    done.join(30)
    return 0


def run_client(args):
    fault = args.fault
    stdin = sys.stdin.buffer
    if fault == "slurp":
        pieces = [stdin.read()]
    else:
        pieces = None
    first = os.read(0, CHUNK) if fault == "first-read-only" else None
    if fault == "no-connect-empty":
        first_bytes = os.read(0, CHUNK)
        if first_bytes == b"":
            return 0
        pieces = [first_bytes]
    sock = socket.create_connection((args.host, args.port))
    ended = threading.Event()  # the server's FIN or reset
    early = {"value": False}
    input_done = threading.Event()

    def watch():
        try:
            while sock.recv(CHUNK):
                pass
        except OSError:
            pass
        if not input_done.is_set():
            early["value"] = True
        ended.set()

    threading.Thread(target=watch, daemon=True).start()

    def chunks():
        if pieces is not None:
            yield from pieces
            if fault != "no-connect-empty":
                return
        if first is not None:
            yield first
            return
        sent = 0
        while True:
            data = os.read(0, CHUNK)
            if not data:
                return
            if fault == "text-mode":
                data = data.decode("utf-8", "replace").encode("utf-8")
            if fault == "truncate":
                data = data[: max(0, (16 << 20) - sent)]
                if not data:
                    return
            sent += len(data)
            yield data

    try:
        for data in chunks():
            sock.sendall(data)
        input_done.set()
        if fault == "exit-at-eof":
            sock.shutdown(socket.SHUT_WR)
            return 0
        if fault != "no-eof":
            sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        if fault == "ignore-errors":
            return 0
        print("faulty_pipe client: %s" % e, file=sys.stderr, flush=True)
        return 1
    if fault == "give-up-exit0":
        ended.wait(1.5)
        return 0
    timeout = None if fault in ("ignore-timeout", "no-eof") or args.timeout <= 0 else args.timeout
    if not ended.wait(timeout):
        print("faulty_pipe client: the server did not close", file=sys.stderr, flush=True)
        return 1
    if early["value"] and fault not in ("ignore-server-fin", "ignore-errors"):
        print("faulty_pipe client: the server closed first", file=sys.stderr, flush=True)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--timeout", type=float, default=0)
    parser.add_argument("--fault", default="none")
    args = parser.parse_args()
    if args.role == "server":
        args.port = int(args.rest[0])
        return run_server(args)
    args.host, args.port = args.rest[0], int(args.rest[1])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    return run_client(args)


if __name__ == "__main__":
    sys.exit(main())
