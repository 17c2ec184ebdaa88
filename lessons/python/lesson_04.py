"""Lesson 4: the server closes; the client reads until recv returns 0 bytes."""

import socket

from common import main, serve_clients

MESSAGE = "Socket Programming in Python".encode("utf-8")


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(5)
    out.listening(s)

    def serve_one():
        clt, adr = s.accept()
        out.say(f"Connection to {adr[0]}:{adr[1]} established")
        out.say(f"sending {len(MESSAGE)} bytes, then closing the connection")
        clt.sendall(MESSAGE)
        clt.close()

    serve_clients(args, out, serve_one)
    s.close()


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    complete_info = b""
    while True:
        msg = s.recv(7)
        if len(msg) <= 0:
            out.say("recv(7) returned 0 bytes: the server closed the connection, so the message is complete")
            break
        out.say(f"recv(7) returned {len(msg)} bytes: {msg!r}")
        complete_info += msg
    # Decoded once at the end: a piece may end in the middle of a multi-byte character.
    out.say(f"complete message: {complete_info.decode('utf-8')}")
    s.close()


if __name__ == "__main__":
    main("lesson_04: close detection", 4104, server, client)
