"""Lesson 3: recv(7) in a loop. The server never closes, so the client never learns the end.

The tutorial's client loops forever; this one stops when recv has waited --wait seconds."""

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
        out.say(f"sending {len(MESSAGE)} bytes, then keeping the connection open until the client hangs up")
        clt.sendall(MESSAGE)
        while clt.recv(1024):  # hold the connection until the client closes it
            pass
        out.say("the client hung up, so this side closes too")
        clt.close()

    serve_clients(args, out, serve_one)
    s.close()


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    while True:
        try:
            msg = s.recv(7)
        except socket.timeout:
            out.say(f"recv(7) is still waiting after {args.wait:g} s: nothing in the stream says the message is over")
            out.say("giving up, and closing the connection")
            break
        if not msg:
            out.say("recv(7) returned 0 bytes: the server closed the connection")
            break
        out.say(f"recv(7) returned {len(msg)} bytes: {msg!r}")
    s.close()


if __name__ == "__main__":
    main("lesson_03: loop receive", 4103, server, client, default_wait=2.0)
