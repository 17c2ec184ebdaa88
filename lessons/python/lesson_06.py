"""Lesson 6: when a recv brings less, or more, than one message.

The server is lesson 5's, in slow motion: its four framed messages go out as one stream, in
pieces of --chunk bytes (5 unless told otherwise) with --pause seconds between them. The client
hands each recv's bytes to two readers: the tutorial's lesson-5 client loop, as written, and
lesson 5's reader. It says where the first goes wrong; the second gets every message.
"""

import argparse
import pickle
import socket
import sys
import time

from common import main, serve_clients
from lesson_05 import HEADERSIZE, MESSAGES

a = HEADERSIZE  # the tutorial's name for it
DEFAULT_CHUNK = 5
DEFAULT_PAUSE = 0.2


def pace_options():
    """--chunk and --pause, which common.py does not know: taken from sys.argv here."""
    parser = argparse.ArgumentParser(prog="lesson_06.py", add_help=False)
    parser.add_argument("--chunk", type=int)
    parser.add_argument("--pause", type=float)
    pace, rest = parser.parse_known_args()
    if pace.chunk is not None and not 1 <= pace.chunk <= 65536:
        parser.error(f"--chunk takes a number of bytes from 1 to 65536, not '{pace.chunk}'")
    if pace.pause is not None and pace.chunk is None:
        parser.error("--pause goes with --chunk: it is the pause between pieces")
    if pace.pause is not None and not 0 <= pace.pause <= 3600:
        parser.error(f"--pause takes a number of seconds from 0 and at most 3600.0, not '{pace.pause}'")
    if pace.chunk is not None and rest[:1] == ["client"]:
        parser.error("--chunk is not an option of client")
    sys.argv[1:] = rest
    return (pace.chunk or DEFAULT_CHUNK), (DEFAULT_PAUSE if pace.pause is None else pace.pause)


CHUNK, PAUSE = pace_options() if __name__ == "__main__" else (DEFAULT_CHUNK, DEFAULT_PAUSE)


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(5)
    out.listening(s)

    def serve_one():
        clt, adr = s.accept()
        # Each piece leaves in a segment of its own, not held back by Nagle's algorithm.
        clt.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out.say(f"Connection to {adr[0]}:{adr[1]} established")
        pickles = []
        for m in MESSAGES:
            mymsg = pickle.dumps(m)
            out.say(f"{m!r} pickles to {len(mymsg)} bytes: {mymsg!r}")
            pickles.append(mymsg)
        out.say(f"sending {len(pickles)} messages, each behind a {a}-byte length header, then closing")
        stream = b"".join(bytes(f"{len(mymsg):<{a}}", "utf-8") + mymsg for mymsg in pickles)
        for start in range(0, len(stream), CHUNK):
            if start:
                time.sleep(PAUSE)
            clt.sendall(stream[start:start + CHUNK])
        clt.close()

    serve_clients(args, out, serve_one)
    s.close()


class Stop(Exception):
    """Where the tutorial's client would have stopped with an error."""


def tutorial_client(out):
    """The tutorial's client loop, as written, but fed each recv's bytes by `send`.

    It yields len(complete_info)-a and x after each recv, for the report at the end."""
    complete_info = b''
    rec_msg = True
    x = 0
    overshot = None  # len(complete_info) once past a + x: from then on only counted
    while True:
        mymsg = yield (len(complete_info) if overshot is None else overshot) - a, x
        if rec_msg:
            header = mymsg[:a]
            try:
                x = int(header)
            except ValueError:
                if not mymsg:
                    raise Stop("recv returned b'', and int(b'') raises ValueError")
                raise Stop(f"int({header!r}) raises ValueError")
            part = "" if len(header) == a else f", from {len(header)} of the {a} bytes of the header"
            out.say(f"  tutorial: x = int({header!r}) = {x}{part}")
            rec_msg = False
        if overshot is not None:
            overshot += len(mymsg)
            continue
        complete_info += mymsg
        if len(complete_info)-a == x:
            try:
                m = pickle.loads(complete_info[a:])
            except Exception as error:
                raise Stop(f"{x} bytes after the header, as x says, but "
                           f"pickle.loads({complete_info[a:]!r}) raises an error: {error}")
            out.say(f"  tutorial: {x} bytes after the header, as x says: {m!r}")
            yield "message"
            rec_msg = True
            complete_info = b''
        elif len(complete_info)-a > x:
            body = len(complete_info) - a
            extra = body - x
            out.say(f"  tutorial: len(complete_info)-a is now {body}, past x = {x}: it took "
                    f"{complete_info[-extra:]!r}, the first {extra} of what follows, as part of "
                    "this message, and == x can never be true again")
            overshot, complete_info = len(complete_info), b''


class Reassembler:
    """Lesson 5's reader: keeps what each recv brings, hands back each header and message whole."""

    def __init__(self):
        self.pending = b""
        self.length = None
        self.count = 0

    def pieces(self, received):
        self.pending += received
        while True:
            if self.length is None and len(self.pending) >= a:
                header, self.pending = self.pending[:a], self.pending[a:]
                text = header.decode("ascii", errors="replace").strip(" ")
                if not (text.isascii() and text.isdigit()):
                    raise ValueError(f"the header {header!r} is not a length")
                self.length = int(text)
                yield f"header {header!r}: the message is {self.length} bytes"
            elif self.length is not None and len(self.pending) >= self.length:
                body, self.pending = self.pending[:self.length], self.pending[self.length:]
                self.length = None
                self.count += 1
                yield repr(pickle.loads(body))
            else:
                return

    def finish(self):
        if self.length is not None or self.pending:
            raise ValueError("the connection closed in the middle of a message")
        return self.count


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    host, port = s.getsockname()
    out.say(f"connected from {host}:{port}: the port the system gave this side")
    # One stream, two readers: each gets exactly the bytes of each recv.
    tutorial = tutorial_client(out)
    state = next(tutorial)
    messages = 0
    stopped = False
    reassembler = Reassembler()
    while True:
        mymsg = s.recv(a)
        out.say(f"recv({a}) returned {mymsg!r}")
        if not stopped:
            try:
                state = tutorial.send(mymsg)
                if state == "message":
                    messages += 1
                    state = next(tutorial)
            except Stop as stop:
                out.say(f"  tutorial: {stop}: the tutorial's client stops here, with an error")
                stopped = True
        if not mymsg:
            break
        for piece in reassembler.pieces(mymsg):
            out.say(f"  lesson 5: {piece}")
    s.close()
    if not stopped:
        body, x = state
        out.say(f"  tutorial: every recv now returns b'' at once, and len(complete_info)-a stays "
                f"{body}, never x = {x}: the tutorial's loop would spin here forever")
    count = reassembler.finish()
    out.say(f"the tutorial's reader got {messages} of the {count} messages; "
            f"lesson 5's reader got all {count}")


if __name__ == "__main__":
    main("lesson_06: when a recv brings less, or more, than one message", 4106, server, client)
