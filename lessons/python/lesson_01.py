"""Lesson 1: basic send. The tutorial's first server and client, with their ports agreeing."""

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
        out.say(f"sending {len(MESSAGE)} bytes")
        clt.sendall(MESSAGE)
        clt.close()

    serve_clients(args, out, serve_one)
    s.close()


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    msg = s.recv(1024)
    out.say(f"recv(1024) returned {len(msg)} bytes")
    out.say(msg.decode("utf-8"))
    s.close()


if __name__ == "__main__":
    main("lesson_01: basic send", 4101, server, client)
