#!/usr/bin/env python3
"""A frame server and client, correct by default, each with faults to choose.

For `pudp check frame`'s own tests: every case must fail against the peer
that breaks its rule, and pass against the peer without a fault.

  server PORT [--fault NAME]
        TCP on 127.0.0.1, a thread per connection. A message is a 4-byte
        big-endian length, then UTF-8; each is answered with its text minus
        10 characters. Messages up to 16 MiB are reassembled however they
        are split; a longer length, or a payload that is not UTF-8, closes
        that connection; a client's FIN or reset closes it.
  client HOST PORT [--fault NAME]
        Sends each stdin line (no line ending) as a message, prints each
        answer on a line; exit 0 once stdin ended and every answer came,
        1 with one line on stderr when the server closes or resets first.

Server faults: no-strip, short-closes, short-silent, strip-bytes, header-once,
payload-once, one-read, max-1k, max-64k, no-limit, sequential, global-lock,
one-client, no-close-on-eof, crash-on-reset, replace-bad-text.
Client faults: little-endian, keep-newline, lockstep, prefix, one-read,
drop-rest, length-chars, truncate-4k, exit-at-eof, exit1, hang-on-close,
crash-on-reset, exit2-close.

Stops on SIGTERM (the default action).
"""

import argparse
import os
import select
import socket
import struct
import sys
import threading

MAX = 16 * 1024 * 1024
FAULT = "none"
LOCK = threading.Lock()


def answer_of(payload):
    if FAULT == "strip-bytes":
        return payload[10:].decode("utf-8", "replace").encode()
    text = payload.decode("utf-8", "replace" if FAULT == "replace-bad-text" else "strict")
    return (text if FAULT == "no-strip" else text[10:]).encode()


def recv_exact(conn, n, once=False):
    """n bytes (fewer only at EOF); with once, a single recv."""
    if once:
        return conn.recv(n)
    out = bytearray()
    while len(out) < n:
        data = conn.recv(min(65536, n - len(out)))
        if not data:
            break
        out += data
    return bytes(out)


def serve(conn):
    try:
        serve_messages(conn)
    except ConnectionResetError:
        if FAULT == "crash-on-reset":
            os._exit(1)
    except (UnicodeDecodeError, OSError):
        pass
    finally:
        if FAULT == "no-close-on-eof":
            threading.Event().wait()  # held open for ever
        conn.close()


def serve_messages(conn):
    limit = {"max-1k": 1024, "max-64k": 65536, "no-limit": 2**32}.get(FAULT, MAX)
    while True:
        if FAULT == "one-read":
            data = conn.recv(65536)
            if len(data) < 4:
                return
            (length,) = struct.unpack("!I", data[:4])
            payload = data[4:4 + length]  # the rest of the read is dropped
        else:
            header = recv_exact(conn, 4, once=FAULT == "header-once")
            if len(header) < 4:
                return
            (length,) = struct.unpack("!I", header)
            if length > limit:
                return
            locked = FAULT == "global-lock"
            if locked:
                LOCK.acquire()
            try:
                payload = recv_exact(conn, length, once=FAULT == "payload-once")
            finally:
                if locked:
                    LOCK.release()
            if len(payload) < length and FAULT != "payload-once":
                return
        answer = answer_of(payload)
        if len(payload.decode("utf-8", "replace")) < 10 and FAULT == "short-closes":
            return
        if len(answer) == 0 and FAULT == "short-silent":
            continue
        conn.sendall(struct.pack("!I", len(answer)) + answer)


def run_server(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    print("listening on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)
    while True:
        conn, _ = listener.accept()
        if FAULT == "sequential":
            serve(conn)
            continue
        thread = threading.Thread(target=serve, args=(conn,), daemon=True)
        thread.start()
        if FAULT == "one-client":
            thread.join()
            listener.close()
            threading.Event().wait()


class Client:
    def __init__(self, sock):
        self.sock = sock
        self.sent = 0
        self.answered = 0
        self.stdin_done = False
        self.answer_came = threading.Event()

    def send_lines(self):
        for raw in sys.stdin.buffer:
            line = raw if FAULT == "keep-newline" else raw.rstrip(b"\r\n")
            length = len(line.decode("utf-8", "replace")) if FAULT == "length-chars" else len(line)
            header = struct.pack("<I" if FAULT == "little-endian" else "!I", length)
            self.answer_came.clear()
            try:
                self.sock.sendall(header + line)
            except OSError as e:
                if FAULT == "hang-on-close":
                    threading.Event().wait()  # does not notice
                if FAULT == "crash-on-reset":
                    raise
                fail("cannot send: %s" % e)
            self.sent += 1
            if FAULT == "lockstep":
                self.answer_came.wait()
        self.stdin_done = True
        if FAULT == "exit-at-eof":
            os._exit(0)

    def receive(self):
        buf = bytearray()
        while True:
            if self.stdin_done and self.answered == self.sent:
                done(1 if FAULT == "exit1" else 0)
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                if FAULT == "crash-on-reset":
                    raise
                fail("the server reset the connection")
            if not data:
                if FAULT == "hang-on-close":
                    threading.Event().wait()
                if self.stdin_done and self.answered == self.sent:
                    done(0)
                fail("the server closed the connection", 2 if FAULT == "exit2-close" else 1)
            if FAULT == "one-read":
                buf = bytearray()
            buf += data
            while len(buf) >= 4:
                (length,) = struct.unpack("!I", buf[:4])
                if len(buf) < 4 + length:
                    break
                answer = bytes(buf[4:4 + length])
                del buf[:4 + length]
                if FAULT == "drop-rest":
                    buf = bytearray()
                if FAULT == "truncate-4k":
                    answer = answer[:4096]
                text = answer.decode("utf-8", "replace")
                sys.stdout.write(("answer: " + text if FAULT == "prefix" else text) + "\n")
                sys.stdout.flush()
                self.answered += 1
                self.answer_came.set()


def done(code):
    sys.stdout.flush()
    os._exit(code)


def fail(message, code=1):
    print("faulty_frame client: " + message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)


def run_client(host, port):
    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError as e:
        fail("cannot connect: %s" % e)
    sock.settimeout(None)
    client = Client(sock)
    threading.Thread(target=client.send_lines, daemon=True).start()
    client.receive()


def main():
    global FAULT
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--fault", default="none")
    args = parser.parse_args()
    FAULT = args.fault
    if args.role == "server":
        run_server(int(args.rest[0]))
    else:
        run_client(args.rest[0], int(args.rest[1]))


if __name__ == "__main__":
    main()
