"""Lesson 5: pickled objects behind a 10-character length header.

Corrected from the tutorial: the header line is f"{len(msg):<10}" (the tutorial's does not
parse); the client keeps what each recv returns and takes out a header once it has all 10 bytes
and a message once it has all of it, instead of assuming recv returns them whole; and a close
between messages ends the client cleanly.

Never unpickle data from a peer you do not trust: pickle.loads can run any code the data names.
"""

import pickle
import socket

from common import main, serve_clients

HEADERSIZE = 10
MAX_LENGTH = 16 * 1024 * 1024
MESSAGES = [{1: "Client", 2: "Server"}, [1, 2, "abc"], ("Python", 3, 3.5, True), {1, 2, 3}]


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(5)
    out.listening(s)

    def serve_one():
        clt, adr = s.accept()
        out.say(f"Connection to {adr[0]}:{adr[1]} established")
        pickles = []
        for m in MESSAGES:
            mymsg = pickle.dumps(m)
            out.say(f"{m!r} pickles to {len(mymsg)} bytes: {mymsg!r}")
            pickles.append(mymsg)
        out.say(f"sending {len(pickles)} messages, each behind a {HEADERSIZE}-byte length header, then closing")
        for mymsg in pickles:
            clt.sendall(bytes(f"{len(mymsg):<{HEADERSIZE}}", "utf-8") + mymsg)
        clt.close()

    serve_clients(args, out, serve_one)
    s.close()


def parse_header(header):
    text = header.decode("ascii", errors="replace").strip(" ")
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"the header {header!r} is not a length: it must be digits, padded with spaces to 10 characters")
    length = int(text)
    if length > MAX_LENGTH:
        raise ValueError(f"the header announces a message of {length} bytes, more than the {MAX_LENGTH} this reader accepts")
    return length


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    pending = b""
    length = None  # the length of the message being received, once its header is in
    count = 0
    while True:
        chunk = s.recv(10)
        if not chunk:
            break
        pending += chunk
        while True:
            if length is None and len(pending) >= HEADERSIZE:
                header, pending = pending[:HEADERSIZE], pending[HEADERSIZE:]
                length = parse_header(header)
                out.say(f"header {header!r}: the next message is {length} bytes")
            elif length is not None and len(pending) >= length:
                body, pending = pending[:length], pending[length:]
                out.say(repr(pickle.loads(body)))
                length = None
                count += 1
            else:
                break
    s.close()
    if length is not None:
        raise ValueError(f"the connection closed after {len(pending)} of the {length} bytes of a message")
    if pending:
        raise ValueError(f"the connection closed after {len(pending)} of the {HEADERSIZE} bytes of a header")
    if count == 0:
        raise ValueError("the connection closed before the first message")
    out.say(f"the server closed the connection after {count} messages")


if __name__ == "__main__":
    main("lesson_05: pickled object transfer", 4105, server, client)
