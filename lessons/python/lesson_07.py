"""Lesson 7: a request and its answer, and the half-close.

The client sends --message, then shuts down its writing half (SHUT_WR): the server's recv returns
0 while the connection stays open for the answer. The server echoes the bytes and closes.
--no-shutdown skips the half-close: the server's read timeout then ends the wait.
"""

import argparse
import socket
import sys

from common import main, serve_clients

MAX_LEN = 1024 * 1024
SERVER_WAIT = 3.0


def lesson_options():
    """--message and --no-shutdown, which common.py does not know: taken from sys.argv here."""
    parser = argparse.ArgumentParser(prog="lesson_07.py", add_help=False)
    parser.add_argument("--message", default="Hello, server!")
    parser.add_argument("--no-shutdown", action="store_true")
    options, rest = parser.parse_known_args()
    if not options.message:
        parser.error("--message needs some text, not ''")
    sys.argv[1:] = rest
    return options


OPTIONS = lesson_options() if __name__ == "__main__" else None


def recv_until_closed(sock):
    """recv until it returns 0, but never more than MAX_LEN + 1 bytes."""
    data = b""
    while len(data) <= MAX_LEN:
        piece = sock.recv(min(65536, MAX_LEN + 1 - len(data)))
        if not piece:
            break
        data += piece
    return data


def text(data):
    """The bytes as text, with what is not printable escaped, as the Rust lessons print it."""
    decoded = data.decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in decoded)


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(128)
    out.listening(s)

    def serve_one():
        clt, adr = s.accept()
        out.say(f"Connection to {adr[0]}:{adr[1]} established")
        clt.settimeout(SERVER_WAIT)  # bounds each recv and each send
        request = b""
        try:
            while len(request) <= MAX_LEN:
                piece = clt.recv(min(65536, MAX_LEN + 1 - len(request)))
                if not piece:
                    break
                request += piece
        except socket.timeout:
            out.say(f"{len(request)} bytes came, then no end of the request within {SERVER_WAIT:g} s "
                    "(this server's read timeout): the client has not shut down its writing half. "
                    "Closing without an answer.")
            clt.close()
            return
        if len(request) > MAX_LEN:
            out.say(f"the request is longer than {MAX_LEN} bytes: refused, closing without an answer")
            clt.close()
            return
        out.say(f"recv returned 0: the request is over, {len(request)} bytes: {text(request)}")
        clt.sendall(request)
        out.say(f"answered {len(request)} bytes, closing")
        clt.close()

    serve_clients(args, out, serve_one)
    s.close()


def client(args, out):
    out.say(f"connecting to {args.host}:{args.port}")
    s = socket.create_connection((args.host, args.port), timeout=args.wait)
    host, port = s.getsockname()
    out.say(f"connected from {host}:{port}: the port the system gave this side")
    message = OPTIONS.message.encode("utf-8")
    out.say(f"sending {len(message)} bytes: {text(message)}")
    s.sendall(message)
    if OPTIONS.no_shutdown:
        out.say("not shutting down the writing half (--no-shutdown): the server cannot tell "
                "that the request is over")
    else:
        s.shutdown(socket.SHUT_WR)
        out.say("shutdown(SHUT_WR): this side will send no more")
    answer = recv_until_closed(s)
    s.close()
    if len(answer) > MAX_LEN:
        raise ValueError(f"the answer is longer than {MAX_LEN} bytes: not reading more")
    verdict = ("the server closed without answering" if not answer
               else "the same bytes as sent" if answer == message else "not the bytes sent")
    shown = f": {text(answer)}" if answer else ""
    out.say(f"recv returned 0: the answer is over, {len(answer)} bytes, {verdict}{shown}")


if __name__ == "__main__":
    main("lesson_07: a request, its answer, and the half-close", 4107, server, client)
